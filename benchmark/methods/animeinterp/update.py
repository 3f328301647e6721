"""The RFR update operator (RAFT's basic update block): motion encoder, separable ConvGRU,
flow head (the residue of eq. 7) and the mask for convex 8x upsampling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BasicMotionEncoder(nn.Module):
    """Correlation features and the current flow, encoded to 126 channels plus the flow itself."""

    def __init__(self, corr_levels: int = 4, corr_radius: int = 4):
        super().__init__()
        corr_planes = corr_levels * (2 * corr_radius + 1) ** 2
        self.convc1 = nn.Conv2d(corr_planes, 256, 1)
        self.convc2 = nn.Conv2d(256, 192, 3, padding=1)
        self.convf1 = nn.Conv2d(2, 128, 7, padding=3)
        self.convf2 = nn.Conv2d(128, 64, 3, padding=1)
        self.conv = nn.Conv2d(64 + 192, 128 - 2, 3, padding=1)

    def forward(self, flow: torch.Tensor, corr: torch.Tensor) -> torch.Tensor:
        cor = F.relu_(self.convc2(F.relu_(self.convc1(corr))))
        flo = F.relu_(self.convf2(F.relu_(self.convf1(flow))))
        out = F.relu_(self.conv(torch.cat([cor, flo], dim=1)))
        # channels-last, as the convolutions' outputs and weights: the GRU's convolutions read it as it is
        return torch.cat([out, flow.contiguous(memory_format=torch.channels_last)], dim=1)


class SepConvGRU(nn.Module):
    """A ConvGRU whose 5x5 gates are factorised into a horizontal (1x5) then a vertical (5x1) pass.

    Each gate convolves [h, context, motion] (128 + 128 + 128 channels). The context does not
    change from one iteration to the next, so its share of every gate (with the gate's bias) is
    computed once by :meth:`prepare`, and each iteration convolves only h and the motion
    features: the same sums as convolving the concatenation, a third fewer multiplications.
    """

    def __init__(self, hidden_dim: int = 128, input_dim: int = 256):
        super().__init__()
        channels = hidden_dim + input_dim
        self.hidden_dim = hidden_dim
        self.convz1 = nn.Conv2d(channels, hidden_dim, (1, 5), padding=(0, 2))
        self.convr1 = nn.Conv2d(channels, hidden_dim, (1, 5), padding=(0, 2))
        self.convq1 = nn.Conv2d(channels, hidden_dim, (1, 5), padding=(0, 2))
        self.convz2 = nn.Conv2d(channels, hidden_dim, (5, 1), padding=(2, 0))
        self.convr2 = nn.Conv2d(channels, hidden_dim, (5, 1), padding=(2, 0))
        self.convq2 = nn.Conv2d(channels, hidden_dim, (5, 1), padding=(2, 0))

    def passes(self):
        """The horizontal and the vertical pass: their (z, r, q) convolutions."""
        return (self.convz1, self.convr1, self.convq1), (self.convz2, self.convr2, self.convq2)

    def prepare(self, context: torch.Tensor) -> list[tuple[torch.Tensor, ...]]:
        """Per pass, what does not change between iterations: the context's share of the z, r and q
        gates (with their biases), stacked (B, 3 * hidden, H, W), and the weights that convolve h
        for z and r, the motion for z, r and q, and r * h for q (channels-last, as the layers')."""
        hidden, start, stop = self.hidden_dim, self.hidden_dim, self.hidden_dim + context.shape[1]
        prepared = []
        for convs in self.passes():
            context_share = F.conv2d(
                context,
                torch.cat([conv.weight[:, start:stop] for conv in convs]),
                torch.cat([conv.bias for conv in convs]),
                padding=convs[0].padding,
            )
            weights = (
                torch.cat([conv.weight[:, :hidden] for conv in convs[:2]]),
                torch.cat([conv.weight[:, stop:] for conv in convs]),
                convs[2].weight[:, :hidden],
            )
            prepared.append((context_share, *(w.contiguous(memory_format=torch.channels_last) for w in weights)))
        return prepared

    def forward(self, h: torch.Tensor, prepared: list[tuple[torch.Tensor, ...]], motion: torch.Tensor) -> torch.Tensor:
        hidden = self.hidden_dim
        for (convz, _, _), (context, weight_h, weight_motion, weight_q) in zip(self.passes(), prepared):
            gates_h = F.conv2d(h, weight_h, padding=convz.padding)
            gates_m = F.conv2d(motion, weight_motion, padding=convz.padding)
            z = torch.sigmoid(gates_h[:, :hidden] + gates_m[:, :hidden] + context[:, :hidden])
            r = torch.sigmoid(gates_h[:, hidden:] + gates_m[:, hidden : 2 * hidden] + context[:, hidden : 2 * hidden])
            q = torch.tanh(
                F.conv2d(r * h, weight_q, padding=convz.padding) + gates_m[:, 2 * hidden :] + context[:, 2 * hidden :]
            )
            h = (1 - z) * h + z * q
        return h


class FlowHead(nn.Module):
    def __init__(self, input_dim: int = 128, hidden_dim: int = 256):
        super().__init__()
        self.conv1 = nn.Conv2d(input_dim, hidden_dim, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden_dim, 2, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu(self.conv1(x)))


class BasicUpdateBlock(nn.Module):
    def __init__(self, hidden_dim: int = 128, context_dim: int = 128):
        super().__init__()
        self.encoder = BasicMotionEncoder()
        self.gru = SepConvGRU(hidden_dim=hidden_dim, input_dim=context_dim + 128)
        self.flow_head = FlowHead(hidden_dim, hidden_dim=256)
        self.mask = nn.Sequential(
            nn.Conv2d(hidden_dim, 256, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(256, 64 * 9, 1)
        )

    def forward(
        self, hidden: torch.Tensor, prepared: list[tuple[torch.Tensor, ...]], corr: torch.Tensor, flow: torch.Tensor
    ):
        """One iteration (eq. 7): the new hidden state and the flow residue.
        ``prepared``: :meth:`SepConvGRU.prepare` of the context features."""
        hidden = self.gru(hidden, prepared, self.encoder(flow, corr))
        return hidden, self.flow_head(hidden)

    def upsample_mask(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits of the convex-combination weights (B, 9*64, H, W), scaled by 0.25 as in RAFT."""
        return 0.25 * self.mask(hidden)
