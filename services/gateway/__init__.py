"""The public gateway: the only door from the internet to the back end (results, playground, votes, review)."""
