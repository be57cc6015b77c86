# The BLAS: OpenBLAS, preferably the build on OpenMP (Debian: libopenblas-openmp-dev), whose
# threads are libgomp's, the same pool as dgm's own parallel loops. With the pthread build
# the two pools spin against each other, so dgm keeps its loops serial there (decided at
# run time, host/cpu/cpu_internal.h). Measured on 2 cores (docs/benchmark-notes.md): every
# training loop ran faster with the OpenMP build, the Fashion-MNIST VAE epoch 12 %.
#
# DGM_BLAS: auto (the OpenMP build when installed and the compiler is GCC, else the
# system's libopenblas),
# openblas-openmp (required), or openblas (the system's libopenblas, whatever its threads).
# Sets BLAS::BLAS, BLAS_LIBRARIES, DGM_CBLAS_INCLUDE_DIR and DGM_BLAS_RUNPATH (the folder
# the loader must search first, for the installed library's RUNPATH; empty if none).
set(DGM_BLAS auto CACHE STRING "auto, openblas-openmp or openblas")
set_property(CACHE DGM_BLAS PROPERTY STRINGS auto openblas-openmp openblas)

set(DGM_BLAS_RUNPATH "")
# auto takes the OpenMP build only with GCC, whose OpenMP runtime is libgomp, the one that
# build uses: clang's is libomp, and two runtimes would mean two pools again.
if(DGM_BLAS STREQUAL "openblas-openmp" OR (DGM_BLAS STREQUAL "auto" AND CMAKE_C_COMPILER_ID STREQUAL "GNU"))
  set(_dgm_omp_dir /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp)
  find_library(DGM_OPENBLAS_OPENMP_LIBRARY openblas PATHS ${_dgm_omp_dir} NO_DEFAULT_PATH)
  find_path(DGM_OPENBLAS_OPENMP_INCLUDE_DIR cblas.h
            PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp NO_DEFAULT_PATH)
  if(DGM_OPENBLAS_OPENMP_LIBRARY AND DGM_OPENBLAS_OPENMP_INCLUDE_DIR)
    add_library(BLAS::BLAS UNKNOWN IMPORTED)
    set_target_properties(BLAS::BLAS PROPERTIES IMPORTED_LOCATION ${DGM_OPENBLAS_OPENMP_LIBRARY})
    set(BLAS_LIBRARIES ${DGM_OPENBLAS_OPENMP_LIBRARY})
    set(DGM_CBLAS_INCLUDE_DIR ${DGM_OPENBLAS_OPENMP_INCLUDE_DIR})
    # The soname is libopenblas.so.0 in both builds; the system's link of that name is the
    # pthread build by Debian's alternatives, so the binaries search this folder first.
    set(DGM_BLAS_RUNPATH ${_dgm_omp_dir})
    message(STATUS "dgm: BLAS OpenBLAS on OpenMP (${DGM_OPENBLAS_OPENMP_LIBRARY})")
  elseif(DGM_BLAS STREQUAL "openblas-openmp")
    message(FATAL_ERROR "DGM_BLAS=openblas-openmp, but it is not installed "
                        "(Debian: apt-get install libopenblas-openmp-dev)")
  endif()
endif()
if(NOT TARGET BLAS::BLAS)
  set(BLA_VENDOR OpenBLAS)
  find_package(BLAS REQUIRED)
  find_path(DGM_CBLAS_INCLUDE_DIR cblas.h
            PATH_SUFFIXES openblas x86_64-linux-gnu aarch64-linux-gnu REQUIRED)
  message(STATUS "dgm: BLAS ${BLAS_LIBRARIES}")
endif()
