"""PyTorch ports of the networks shipped in the npm package `@vladmandic/face-api`.

The package ships weights only (TFJS manifests + uint8-quantised `.bin` shards under `model/`);
the architectures here follow its TypeScript sources (`src/faceRecognitionNet/`, `src/xception/`,
`src/faceFeatureExtractor/`, `src/tinyYolov2/`). Weights are read from the installed package at
run time (`weights.py`), never copied into this repository; the tests compare every port with the
package's own TFJS implementation on real photos.
"""
