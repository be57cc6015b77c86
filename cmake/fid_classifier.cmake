# cmake --build build --target fid-classifier: regenerates the Fashion-MNIST classifier
# kept in the repository (models/fashion-mnist-classifier.safetensors), the feature
# extractor of dgm's FID and Inception-style score, by running `dgm classifier`. It needs
# the Fashion-MNIST files (Debian's dataset-fashion-mnist, or DGM_DATA_DIR). Deterministic
# for the seed on one machine (OpenBLAS's sums may differ on another CPU, so the file
# may differ in its last bits there). It takes about 4 minutes on one CPU core
# (OPENBLAS_NUM_THREADS=1: 30 epochs of 60,000 images at ~8 s each) and well under a
# minute on a GPU with --device cuda.
set(DGM_FID_CLASSIFIER ${PROJECT_SOURCE_DIR}/models/fashion-mnist-classifier.safetensors)
add_custom_target(fid-classifier
  COMMAND ${CMAKE_COMMAND} -E env OPENBLAS_NUM_THREADS=1
          $<TARGET_FILE:dgm_cli> classifier --data fashion-mnist --device cpu --seed 0
          -o ${DGM_FID_CLASSIFIER}
  DEPENDS dgm_cli
  WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
  COMMENT "Training the Fashion-MNIST classifier into ${DGM_FID_CLASSIFIER} (a few minutes)"
  VERBATIM USES_TERMINAL)
