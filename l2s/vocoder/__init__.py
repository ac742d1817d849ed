"""The neural vocoder: ln-mel to waveform with a Vocos-style generator, its sizes, its
discriminators and losses."""
