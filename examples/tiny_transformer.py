"""A tiny Transformer encoder that learns to reverse short sequences of digits.

Shows a hand-written compiled training loop with a warm-up + cosine learning-rate
schedule, gradient clipping and an EMA of the weights used for evaluation::

    UNIFW_BACKEND=tensorflow python examples/tiny_transformer.py
"""
import numpy as np

import unifw as uf
from unifw import data, nn, optim
import unifw.nn.functional as F

VOCAB, LENGTH = 10, 8


class Reverser(nn.Module):
    """Token and position embeddings, a pre-norm Transformer encoder, a per-token classifier."""

    def __init__(self, d_model=64, nhead=4, num_layers=2):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, d_model)
        positions = uf.random.host_generator().normal(0.0, 1.0, size=(1, LENGTH, d_model))
        self.positions = nn.Parameter(uf.asarray(positions.astype(np.float32)))
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=128, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model))
        self.head = nn.Linear(d_model, VOCAB)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens) + self.positions))


def sequence_loss(logits, targets):
    return F.cross_entropy(uf.reshape(logits, (-1, VOCAB)), uf.reshape(targets, (-1,)))


def make_data(rng, n):
    tokens = rng.integers(0, VOCAB, size=(n, LENGTH))
    return tokens, tokens[:, ::-1].copy()


def main(epochs=3, batch_size=64):
    rng = np.random.default_rng(0)
    x_train, y_train = make_data(rng, 4096)
    x_test, y_test = make_data(rng, 512)

    uf.random.seed(0)
    model = Reverser()
    loader = data.DataLoader(data.TensorDataset(x_train, y_train), batch_size=batch_size,
                             shuffle=True, seed=0, drop_last=True)
    total = epochs * len(loader)
    opt = optim.AdamW(model.parameters(), weight_decay=0.01,
                      lr=optim.warmup_cosine(3e-3, warmup_steps=total // 10, total_steps=total))
    ema = optim.EMA(model, decay=0.95)

    @uf.function
    def train_step(model, opt, ema, tokens, targets):
        loss, grads = uf.value_and_grad(lambda m: sequence_loss(m(tokens), targets))(model)
        grads, grad_norm = optim.clip_grad_norm(grads, max_norm=1.0)
        opt.step(grads)
        ema.update(model)
        return loss, grad_norm

    @uf.function
    def token_accuracy(model, tokens, targets):
        predicted = uf.argmax(model(tokens), axis=-1)
        return uf.mean((predicted == targets).astype(uf.float32))

    x_eval, y_eval = uf.asarray(x_test), uf.asarray(y_test)
    for epoch in range(epochs):
        for tokens, targets in loader:
            loss, grad_norm = train_step(model, opt, ema, tokens, targets)
        with ema.applied_to(model):
            averaged = float(token_accuracy(model, x_eval, y_eval))
        print(f"[{uf.backend()}] epoch {epoch + 1}  loss {float(loss):.4f}  "
              f"grad norm {float(grad_norm):.3f}  test token accuracy (EMA weights) {averaged:.3f}")
    example = x_test[:1]
    print("input   ", example[0].tolist())
    print("reversed", uf.argmax(model(uf.asarray(example)), axis=-1).numpy()[0].tolist())


if __name__ == "__main__":
    main()
