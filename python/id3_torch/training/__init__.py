"""What every training loop shares: process groups, data order, learning-rate schedules, resumable state."""
