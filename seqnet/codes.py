"""The diagnostic codes: stable identifiers, what each means, and a wrong and a right example.

`seqnet explain CODE` prints an entry; tests check that every code the compiler emits is here.
"""

from __future__ import annotations

# code -> (title, explanation, wrong example, right example)
CODES: dict[str, tuple[str, str, str, str]] = {
    "SQN0001": ("syntax error", "The text does not follow the .seqnet grammar at this point.",
                "h = dense(x 32)", "h = dense(x, 32)"),
    "SQN0002": ("unexpected character", "A character that no seqnet token contains (for example a "
                "single quote, a semicolon or a tab-less control character).",
                "name = 'relu';", 'name = "relu"'),
    "SQN0004": ("unreadable file", "The spec file is missing, a directory, binary or not UTF-8.",
                "seqnet check models/", "seqnet check models/mlp.seqnet"),
    "SQN0005": ("too large or too deep", "The spec exceeds a limit (file size, bracket nesting, "
                "expression depth, block nesting depth or graph size).", "x = ((((((...))))))", "split deep expressions"),
    "SQN0101": ("unknown name", "A name is used that no input, dim, const, block or earlier "
                "statement defines.", "h = dense(hiden, 32)", "h = dense(hidden, 32)"),
    "SQN0102": ("unknown op or block", "The called name is neither a built-in op nor a block.",
                "h = dens(x, 32)", "h = dense(x, 32)"),
    "SQN0103": ("unknown argument", "A keyword argument or setting that the op, block, wormhole "
                "or section does not take.", "dense(x, 32, activation=relu)", "dense(x, 32, act=relu)"),
    "SQN0104": ("missing argument", "A required argument or setting is not given.",
                "h = dense(x)", "h = dense(x, 32)"),
    "SQN0105": ("wrong number of arguments", "Too many positional arguments, positional after "
                "keyword, or a count mismatch between names and values.",
                "a, b = dense(x, 3)", "a, b = split(dense(x, 6), 2)"),
    "SQN0106": ("wrong kind of value", "An argument has the wrong kind: a number where a tensor is "
                "needed, a tensor where a number is needed, and so on.",
                "h = dense(3, x)", "h = dense(x, 3)"),
    "SQN0107": ("duplicate or misplaced definition", "A name defined twice, or a statement in a "
                "place it is not allowed (an input inside a block).",
                "dim N = 4\ndim N = 8", "dim N = 4\ndim M = 8"),
    "SQN0108": ("invalid value", "A value outside its allowed range or set (a non-positive dim, an "
                "unknown dtype, an activation that does not exist).",
                "input x : float32[0]", "input x : float32[4]"),
    "SQN0109": ("argument given twice", "The same argument is passed twice.",
                "dense(x, 3, units=3)", "dense(x, units=3)"),
    "SQN0110": ("unknown override", "--set names something that is neither a dim, a const nor a "
                "train setting.", "seqnet check m.seqnet --set NN=4", "seqnet check m.seqnet --set N=4"),
    "SQN0201": ("import not found", "An imported file does not exist.",
                'import "blcks.seqnet"', 'import "blocks.seqnet"'),
    "SQN0202": ("import outside the spec's folder", "Specs may only import files inside their own "
                "folder tree, so a spec cannot read arbitrary files.",
                'import "../../etc/x.seqnet"', 'import "lib/blocks.seqnet"'),
    "SQN0203": ("cyclic import", "Files import each other in a loop.",
                'a.seqnet: import "b.seqnet"; b.seqnet: import "a.seqnet"',
                "move the shared blocks into c.seqnet imported by both"),
    "SQN0301": ("shape mismatch", "Tensor shapes do not fit the op (the message shows both shapes "
                "and where each came from).", "h = add(dense(x, 3), dense(x, 4))",
                "h = add(dense(x, 4), dense(x, 4))"),
    "SQN0302": ("dtype mismatch", "Tensor dtypes do not fit the op (for example integer ids given "
                "to dense).", "h = dense(tokens, 32)", "h = dense(embed(tokens, 32), 32)"),
    "SQN0303": ("rank or axis error", "A tensor has the wrong number of axes for the op, or an axis "
                "index is out of range.", "attention(x)  # x : float32[E]",
                "attention(x)  # x : float32[N, E]"),
    "SQN0304": ("size not divisible", "A size must divide evenly (heads, split, reshape).",
                "attention(x, heads=3)  # E = 64", "attention(x, heads=4)"),
    "SQN0305": ("output type mismatch", "An output is declared with one type but computed with "
                "another.", "output y : float32[2] = dense(h, 3)", "output y : float32[3] = dense(h, 3)"),
    "SQN0306": ("tied weight does not fit", "`tie=` names a value whose op has no weight, or whose "
                "first weight has neither the shape of the tying op's weight nor the transposed one.",
                "emb = embed(x, 32)  # vocab 100\ny = dense(h, 64, tie=emb)",
                "emb = embed(x, 32)  # vocab 100\ny = dense(h, 100, tie=emb)"),
    "SQN0307": ("choices give different values", "The choices of a `choose` give values of "
                "different kinds, or tensors of different dtypes, shapes or vocabularies. The rest "
                "of the spec is elaborated once, so every choice must fit it.",
                "h = choose(BLOCK, attention=attention(h), mlp=dense(h, 32))  # h: [N, 16]",
                "h = choose(BLOCK, attention=attention(h), mlp=dense(h, 16))"),
    "SQN0401": ("cycle without a wormhole", "The dataflow has a loop that no wormhole solves.",
                "(only graphs built by tools can contain one)", "wormhole h3 -> h1"),
    "SQN0402": ("invalid wormhole", "A wormhole must carry a later node back to an earlier node "
                "that it depends on.", "wormhole h1 -> h3", "wormhole h3 -> h1"),
    "SQN0403": ("invalid segment structure", "A segment structure violates one of the four "
                "properties (splits inside segments, parts present, all prefixes and suffixes present).",
                "custom(3, [[1, 3, 3]])", "binary_tree(3)"),
    "SQN0404": ("recursive block", "A block calls itself, directly or through others; blocks "
                "expand at compile time, so recursion would never end.",
                "block f(x) { return f(x) }", "h = repeat 4 { f(h) }"),
    "SQN0405": ("op cannot be trained as configured", "A trained spec uses an op in a way that gives "
                "no gradient: a wormhole solved by forward-mode AD (solver=forward) has tangents "
                "but no reverse-mode gradient.",
                "wormhole h2 -> h1 solver=forward  # and a train section",
                "wormhole h2 -> h1 solver=fixed_point"),
    "SQN0501": ("invalid train section", "A train setting is unknown or a required one is missing.",
                "train { step = 10 }", "train { steps = 10 }"),
    "SQN0502": ("unknown loss, optimizer or data source", "The train section names a loss, metric, "
                "optimizer, schedule or data source that seqnet does not have.",
                "optimizer = adamm(lr=1e-3)", "optimizer = adam(lr=1e-3)"),
    "SQN0503": ("data does not fit the spec", "The data source has no field for an input, or its "
                "type differs from the input's declaration.",
                "input x : float32[10]  # data = digits(flat=true)", "input x : float32[64]"),
    "SQN0504": ("loss or metric does not fit its output and target", "A loss or metric pairs an "
                "output with a data field it cannot compare: real-valued losses (mse, l1) on class "
                "labels, class losses (cross_entropy, accuracy) on real values or with another "
                "class count, bce on more than two classes, or shapes that differ (an output per "
                "position against one label per sequence).",
                "output y : float32[2] = dense(h, 2)  # digits: 10 classes\nloss = cross_entropy(y, label)",
                "output y : float32[10] = dense(h, 10)\nloss = cross_entropy(y, label)"),
    "SQN0505": ("sharding does not fit a parameter", "A sharding rule splits a parameter axis over a "
                "mesh axis whose size does not divide it, or names an axis the op family's "
                "parameters do not have, or a node that has no parameters.",
                "mesh = mesh(data=2, model=4)\nsharding = sharding(dense=columns(model))  # dense(h, 30)",
                "sharding = sharding(dense=columns(model), nodes=nodes(head=replicated))"),
    "SQN0601": ("unused input (warning)", "An input never reaches an output.",
                "input mask : float32[N]  # never used", "remove it, or use it"),
    "SQN0602": ("unused value (warning)", "A computed value never reaches an output.",
                "h2 = dense(h, 3)  # never used", "remove it, or use it"),
    "SQN0603": ("missing output", "The spec declares no output, or an output is never assigned.",
                "output y : float32[2]", "output y : float32[2] = dense(h, 2)"),
    "SQN0604": ("arithmetic error", "Division by zero or a number too large in a compile-time "
                "expression.", "dim H = E / 0", "dim H = E / 2"),
    "SQN0605": ("invalid repeat", "A repeat's count must be a positive integer, it must be "
                "assigned to the names it carries, and its body must keep their shapes.",
                "h = repeat 0 { f(h) }", "h = repeat 2 { f(h) }"),
    "SQN0701": ("not an autoregressive spec", "`seqnet generate` and `model.generate` feed one input "
                "of token ids, int32[T] with a vocab V, and read per-position logits, float32[T, V], "
                "from an output.", "input x : float32[T]\noutput y : float32[2] = dense(x, 2)",
                "input x : int32[T] vocab V\noutput y : float32[T, V] = dense(embed(x, 32), V)"),
}


def explain(code: str) -> str | None:
    entry = CODES.get(code.upper())
    if entry is None:
        return None
    title, text, wrong, right = entry
    return (f"{code.upper()}: {title}\n\n{text}\n\nWrong:\n    "
            + wrong.replace("\n", "\n    ") + "\n\nRight:\n    " + right.replace("\n", "\n    ") + "\n")  # fmt: skip
