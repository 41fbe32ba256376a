"""Speed benchmark: real-time factor per stage, import time and peak memory, vs baselines."""
