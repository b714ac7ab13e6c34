"""Small limits on what one connection or one address may cost: tokens, floods, guesses, slow readers."""
