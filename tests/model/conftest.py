"""Tests of harness/model: the model API node (apinode/), simnet (simnet/), and the two together under the edge cases
(test_edge_model.py)."""
