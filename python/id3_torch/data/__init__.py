"""Datasets the toolkit renders or reads: parametric faces and image-file helpers."""
