# cmake --build build --target fid-classifier: regenerates the Fashion-MNIST classifier
# kept in the repository (models/fashion-mnist-classifier.safetensors), the feature
# extractor of dgm's FID and Inception-style score, by running `dgm classifier`. It needs
# the Fashion-MNIST files (Debian's dataset-fashion-mnist, or DGM_DATA_DIR). Deterministic
# for the seed on one machine (OpenBLAS's sums may differ on another CPU, so the file
# may differ in its last bits there: rerunning it here reproduced the committed file byte
# for byte). It takes about 2.5 minutes on one CPU core (OPENBLAS_NUM_THREADS=1: 30 epochs
# of 60,000 images, 132 s in all on the 2-core development machine; 395 s while that
# machine was busy with a build).
set(DGM_FID_CLASSIFIER ${PROJECT_SOURCE_DIR}/models/fashion-mnist-classifier.safetensors)
add_custom_target(fid-classifier
  COMMAND ${CMAKE_COMMAND} -E env OPENBLAS_NUM_THREADS=1
          $<TARGET_FILE:dgm_cli> classifier --data fashion-mnist --device cpu --seed 0
          -o ${DGM_FID_CLASSIFIER}
  DEPENDS dgm_cli
  WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
  COMMENT "Training the Fashion-MNIST classifier into ${DGM_FID_CLASSIFIER} (a few minutes)"
  VERBATIM USES_TERMINAL)
