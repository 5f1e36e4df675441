"""Ways to make a small training set other than a GTN: random class-balanced subsets, coresets
(herding, k-means), distribution matching (DM) and gradient matching (DC). Each returns an
`ImageSet` (gtnbench.data.image_set) that `FixedSetTeacher` (gtnbench.teachers.fixed_set) teaches."""
