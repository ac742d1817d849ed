"""What the trained models are worth: the test stage's synthesis and scores, the speech
recognisers (asr/), word error rates and the cross-language report."""
