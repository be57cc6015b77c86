/* The CUDA entry points of a build without CUDA (CMake's DGM_CUDA off): compiled instead
 * of the .cu files, so the rest of the library links the same way and picks the CPU
 * backend at run time. */
#include <stdio.h>

#include "backend.h"

const dgm_backend *dgm_cuda_backend(void)
{
    return NULL;
}

dgm_status dgm_cuda_probe(char *why, size_t why_len)
{
    if (why != NULL && why_len > 0) snprintf(why, why_len, "this build of dgm has no CUDA backend");
    return DGM_STATUS_UNSUPPORTED;
}
