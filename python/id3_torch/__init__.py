"""id3_torch: the tensor side of id3 (training, sampling, encoders, evaluation)."""
