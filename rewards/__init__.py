"""rewards: claims, checkers, preference model, hybrid reward."""
