/* Common include for cmocka unit tests. */
#ifndef DMSCALE_UNIT_H
#define DMSCALE_UNIT_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#endif
