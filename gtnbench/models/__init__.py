"""The networks: the paper's MNIST and CIFAR-10 learners, the DC/DM reference ConvNet, NAS-Bench-201 cells and
NAS-Bench-Macro networks, the GTN's generator, and the layers they share (weight norm, mean-only batch norm)."""
