# oneDNN (Debian: libdnnl-dev), the CPU backend's convolutions (host/cpu/cpu_dnnl.c):
# measured 2-4x faster than dgm's im2col + OpenBLAS on the UNet's shapes
# (docs/benchmark-notes.md). Its Debian build threads on OpenMP (libgomp), the pool
# OpenBLAS's OpenMP build and dgm's loops share.
#
# DGM_DNNL: auto (used when found), on (required) or off (the im2col method only).
# Sets DGM_DNNL_FOUND and DGM_DNNL_LIBRARY.
set(DGM_DNNL auto CACHE STRING "auto, on or off")
set_property(CACHE DGM_DNNL PROPERTY STRINGS auto on off)
set(DGM_DNNL_FOUND FALSE)
if(NOT DGM_DNNL STREQUAL "off")
  find_path(DGM_DNNL_INCLUDE_DIR dnnl.h)
  find_library(DGM_DNNL_LIBRARY dnnl)
  if(DGM_DNNL_INCLUDE_DIR AND DGM_DNNL_LIBRARY)
    file(STRINGS ${DGM_DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h _dgm_dnnl_major
         REGEX "define DNNL_VERSION_MAJOR")
    # cpu_dnnl.c is written against oneDNN 2's C API (Debian 12: 2.6.3)
    if(_dgm_dnnl_major MATCHES "MAJOR 2$")
      set(DGM_DNNL_FOUND TRUE)
    endif()
  endif()
  if(NOT DGM_DNNL_FOUND AND DGM_DNNL STREQUAL "on")
    message(FATAL_ERROR "DGM_DNNL=on but oneDNN 2 was not found (Debian: apt-get install libdnnl-dev)")
  endif()
endif()
message(STATUS "dgm: CPU convolutions through oneDNN: ${DGM_DNNL_FOUND}")
