#!/usr/bin/env bash
# Fashion-MNIST (70k 28x28 images, 10 classes) from Debian's package; installed, not committed.
set -euo pipefail
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq dataset-fashion-mnist
fi
ls /usr/share/datasets/fashion-mnist/
