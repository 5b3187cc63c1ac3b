"""The one static-program runtime and the one optimiser/schedule factory, shared by supernet
training, stand-alone training and scoring."""
