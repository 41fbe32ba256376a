"""Scale-out benchmark: ``voxref.scale.embed_dataset`` throughput for 1 vs 2 workers, both backends."""
