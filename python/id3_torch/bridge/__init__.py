"""What the TypeScript bridge needs from Python: JSON codec, jobs, tensor handles, bulk files, lifeline."""
