"""Teachers: whatever hands a learner the batch of inner step t and that step's learning rate and momentum (real
data, a GTN's lesson, a fixed small set, the DC/DM reference recipe), and pictures of what they teach."""
