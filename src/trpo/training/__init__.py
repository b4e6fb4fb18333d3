"""Training: the TrainState and train_step, the TRPO class's loop, the compiled program,
checkpoints, evaluation, interruption and metrics logging."""
