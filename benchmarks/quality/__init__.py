"""Quality benchmark: verification EER / minDCF of voxref and baselines under degradations."""
