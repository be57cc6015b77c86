# `cmake --install`: libdgm.so (and, with DGM_INSTALL_STATIC, libdgm.a), the headers, the dgm
# command, dgmConfig.cmake + version file (find_package(dgm) -> dgm::dgm) and dgm.pc; and
# `cpack -G DEB`, a Debian package of all of it.
include(CMakePackageConfigHelpers)
set(DGM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/dgm)

install(TARGETS dgm_shared EXPORT dgmTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT dgmTargets NAMESPACE dgm:: DESTINATION ${DGM_CMAKE_DIR})
if(DGM_INSTALL_STATIC)
  install(TARGETS dgm EXPORT dgmStaticTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT dgmStaticTargets NAMESPACE dgm:: DESTINATION ${DGM_CMAKE_DIR})
endif()
install(TARGETS dgm_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/dgm DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# the classifier behind `dgm eval/compare --metric fid,is` (found as BIN/../share/dgm/)
install(FILES ${PROJECT_SOURCE_DIR}/models/fashion-mnist-classifier.safetensors
        DESTINATION ${CMAKE_INSTALL_DATADIR}/dgm)

set(DGM_CONFIG_CUDA ${DGM_WITH_CUDA})
if(TARGET CUDA::curand)
  set(DGM_CONFIG_CURAND ON)
else()
  set(DGM_CONFIG_CURAND OFF)
endif()
set(DGM_CONFIG_STATIC ${DGM_INSTALL_STATIC})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/dgmConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/dgmConfig.cmake
                              INSTALL_DESTINATION ${DGM_CMAKE_DIR})
# 0.x: only the same minor version is compatible (see the soname).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/dgmConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/dgmConfig.cmake ${PROJECT_BINARY_DIR}/dgmConfigVersion.cmake
        DESTINATION ${DGM_CMAKE_DIR})

# pkg-config: relative to the .pc file, so the tree can move (a DESTDIR, a package).
if(DGM_CONFIG_CURAND)
  get_filename_component(DGM_PC_CUDA_LIBDIR "${CUDAToolkit_LIBRARY_DIR}" ABSOLUTE)
  set(DGM_PC_CUDA_LIBS "-L${DGM_PC_CUDA_LIBDIR}")
  if(DGM_WITH_CUDA)
    string(APPEND DGM_PC_CUDA_LIBS " -lcudart -lcublas")
  endif()
  string(APPEND DGM_PC_CUDA_LIBS " -lcurand")
endif()
set(DGM_PC_DNNL_LIBS "")
if(DGM_DNNL_FOUND)
  set(DGM_PC_DNNL_LIBS "-ldnnl ")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/dgm.pc.in ${PROJECT_BINARY_DIR}/dgm.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/dgm.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

set(CPACK_PACKAGE_NAME dgm)
set(CPACK_PACKAGE_VENDOR "dgm")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "deep generative models in C11 and CUDA: library, headers and the dgm command")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "dgm developers <dgm@localhost>")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "dgm developers <dgm@localhost>")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
# Debian's names of what libdgm.so links; the CUDA toolkit is not a Debian package here and
# is left to the machine (the library finds it through the loader's paths).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libopenblas0-openmp | libopenblas0 | libopenblas0-pthread, libgomp1, libjansson4, libpng16-16 | libpng16-16t64, zlib1g")
if(DGM_DNNL_FOUND)
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libdnnl2")
endif()
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
