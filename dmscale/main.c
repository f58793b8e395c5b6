#include <stdio.h>
int main(void) { puts("dmscale " DMSCALE_VERSION); return 0; }
