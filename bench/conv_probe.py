# Probe: what cuDNN (through PyTorch, channels_last fp16) takes for the convolutions edgert
# profiles as slow at batch 128, to tell a slow algorithm choice from a slow shape.
import torch, torch.nn.functional as F
torch.backends.cudnn.benchmark = True
def t(fn, it=50):
    for _ in range(5): fn()
    s, e = torch.cuda.Event(True), torch.cuda.Event(True)
    ts = []
    for _ in range(it):
        s.record(); fn(); e.record(); torch.cuda.synchronize(); ts.append(s.elapsed_time(e))
    return sorted(ts)[len(ts) // 2]
cases = [("rn50 stem 7x7s2 c3", 128, 3, 224, 64, 7, 2, 3, 1), ("rn50 stem c4", 128, 4, 224, 64, 7, 2, 3, 1),
         ("rn50 stem c8", 128, 8, 224, 64, 7, 2, 3, 1), ("mnv2 stem 3x3s2 c3", 128, 3, 224, 32, 3, 2, 1, 1),
         ("mnv2 stem c4", 128, 4, 224, 32, 3, 2, 1, 1), ("mnv2 stem c8", 128, 8, 224, 32, 3, 2, 1, 1),
         ("rn50 l1 3x3 64", 128, 64, 56, 64, 3, 1, 1, 1), ("mnv2 1x1 16->96 112", 128, 16, 112, 96, 1, 1, 0, 1),
         ("mnv2 dw 3x3 144 56", 128, 144, 56, 144, 3, 1, 1, 144), ("mnv2 dw 3x3 32 112", 128, 32, 112, 32, 3, 1, 1, 32),
         ("rn50 l2 ds 1x1 s2 256->512", 128, 256, 56, 512, 1, 2, 0, 1)]
for name, n, c, hw, k, r, s, p, g in cases:
    x = torch.randn(n, c, hw, hw, device="cuda", dtype=torch.half).to(memory_format=torch.channels_last)
    w = torch.randn(k, c // g, r, r, device="cuda", dtype=torch.half).to(memory_format=torch.channels_last)
    b = torch.randn(k, device="cuda", dtype=torch.half)
    print("%-28s %.4f ms" % (name, t(lambda: F.conv2d(x, w, b, s, p, 1, g))))
x = torch.randn(128, 64, 112, 112, device="cuda", dtype=torch.half).to(memory_format=torch.channels_last)
print("%-28s %.4f ms" % ("maxpool 3x3s2 64 112", t(lambda: F.max_pool2d(x, 3, 2, 1))))
