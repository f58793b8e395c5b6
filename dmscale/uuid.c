/* Random uuids through libuuid (see uuid.h). */
#include "dmscale/uuid.h"

#include <string.h>
#include <uuid/uuid.h>

void dms_uuid_generate(uint8_t out[16])
{
	uuid_t u;
	uuid_generate_random(u);
	memcpy(out, u, 16);
}
