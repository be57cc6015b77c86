# `pip install .` (pyproject.toml, scikit-build-core sets SKBUILD): the Python package dgm
# ships libdgm.so beside its modules, as one file (a wheel holds no symlinks, so the soname
# links would be copies) in the install component "python", the only one the wheel
# installs. Included only when SKBUILD is set: the normal build and `cmake --install` do not
# see this file.
set_property(TARGET dgm_shared PROPERTY VERSION)
set_property(TARGET dgm_shared PROPERTY SOVERSION)
install(TARGETS dgm_shared LIBRARY DESTINATION dgm COMPONENT python)
