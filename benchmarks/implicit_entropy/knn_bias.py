# Kozachenko–Leonenko entropy (as implicit/knn_entropy.hpp) on Gaussians of known entropy: bias at
# D = 8, N = 64 particles, for the widths a VAE posterior takes. Usage: /usr/bin/python3 knn_bias.py K
import numpy as np, math
def dig(n): return -0.5772156649015329 + sum(1.0/j for j in range(1,n))
def kl(z,k=1):
    n,d=z.shape
    sq=((z[:,None,:]-z[None,:,:])**2).sum(-1); np.fill_diagonal(sq,np.inf)
    eps=np.sqrt(np.sort(sq,1)[:,k-1])
    logV=d/2*math.log(math.pi)-math.lgamma(1+d/2)
    return dig(n)-dig(k)+logV+d*np.mean(np.log(eps))
rng=np.random.default_rng(0)
import sys
K=int(sys.argv[1]); D,N,R=8,64,1000
cases={"isotropic":np.ones(D),
 "widths 1..0.1 (log-spread)":np.logspace(0,-1,D),
 "widths 1..0.01":np.logspace(0,-2,D),
 "4 at 1, 4 at 0.05":np.r_[np.ones(4),0.05*np.ones(4)],
 "widths 1..0.001":np.logspace(0,-3,D)}
for name,s in cases.items():
    exact=0.5*D*math.log(2*math.pi*math.e)+np.log(s).sum()
    est=np.array([kl(rng.standard_normal((N,D))*s,K) for _ in range(R)])
    print(f"{name:28s} exact {exact:8.3f}  kNN {est.mean():8.3f} ± {est.std()/math.sqrt(R):.3f}  bias {est.mean()-exact:+.3f}")
