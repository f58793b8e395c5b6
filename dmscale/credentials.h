/* systemd credentials: secrets that the unit hands over with LoadCredential=
 * (or LoadCredentialEncrypted=) as files in $CREDENTIALS_DIRECTORY, readable
 * only by the service, instead of an environment file. */
#ifndef DMSCALE_CREDENTIALS_H
#define DMSCALE_CREDENTIALS_H
#include <stddef.h>

#define DMS_CREDENTIAL_MAX 4096   /* bytes of one value, NUL included */

/* The credential `name` from dir (NULL: $CREDENTIALS_DIRECTORY), one trailing
 * newline removed. 0; -ENOENT when there is no such directory or credential;
 * -EINVAL for a name that is not a plain file name or a value with a NUL or
 * an inner newline; -E2BIG when it does not fit outlen. */
int dms_credential_read(const char *dir, const char *name, char *out, size_t outlen);

/* getenv() with systemd credentials behind it: the environment variable when
 * set and not empty, else the credential of the same name (e.g. a unit's
 * LoadCredential=AWS_SECRET_ACCESS_KEY:/etc/dmscale/aws-secret-access-key),
 * else NULL. Pass it as the getenv_fn of dms_config_apply_env. Values stay
 * valid until dms_credential_wipe. */
const char *dms_credential_getenv(const char *name);
/* Zero and forget every value dms_credential_getenv returned. */
void dms_credential_wipe(void);
#endif
