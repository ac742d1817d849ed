"""VCA-GAN: the model and its sizes, losses, training, inference, the Griffin-Lim vocoder
and `l2s speak`."""
