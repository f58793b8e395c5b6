/* Pool name and volume id validation, one rule each. See names.h. */
#include "ec2/names.h"

#include <string.h>

#include "dmscale/label.h"

bool dms_valid_pool_name(const char *s)
{
	if (!s)
		return false;
	size_t n = strnlen(s, DMS_POOL_NAME_MAX);
	if (n == 0 || n == DMS_POOL_NAME_MAX || !strcmp(s, ".") || !strcmp(s, "..") || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '.' || c == '-'))
			return false;
	}
	return true;
}

bool dms_valid_volume_id(const char *s)
{
	if (!s || strncmp(s, "vol-", 4))
		return false;
	size_t n = strnlen(s + 4, 18);
	if (n != 17 && n != 8)
		return false;
	for (size_t i = 4; i < 4 + n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}
