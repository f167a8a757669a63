"""Spec texts shared by several backend tests."""

# A binary-tree fusion encoder network; format with n (sequence length) and share (policy).
SEGMENTS = """
dim N = {n}
dim E = 3
input x : float32[N, 2]
block mlp(x, out, hidden) {{
  h = dense(x, hidden, act=tanh)
  return dense(h, out)
}}
segments tree = binary_tree(N) {{
  token   = mlp(E, hidden=4)
  fusion  = mlp(E, hidden=5)
  decoder = mlp(2, hidden=4)
  share   = {share}
}}
output y : float32[2] = tree(x)
"""
