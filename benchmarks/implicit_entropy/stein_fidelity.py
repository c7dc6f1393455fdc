# numpy re-implementation of Li & Turner's Stein gradient estimator (RBF, median bandwidth, eta)
# to measure entropy-gradient fidelity for a diagonal Gaussian q(z|x), K particles, D = 8.
import numpy as np, math, sys
rng=np.random.default_rng(0)
def stein(z,eta):
    n=z.shape[0]; diff=z[:,None,:]-z[None,:,:]; sq=(diff**2).sum(-1)
    h2=np.median(sq[~np.eye(n,dtype=bool)])
    Kmat=np.exp(-sq/(2*h2)); gradK=(diff*Kmat[:,:,None]).sum(1)/h2   # Σ_j ∇_{z_j} k(z_j,z_i)
    return -np.linalg.solve(Kmat+eta*np.eye(n),gradK)
D=8
for K in (8,64):
  for name,s in (("isotropic",np.ones(D)),("widths 1..0.01",np.logspace(0,-2,D))):
    for eta in (1.0,0.01):
      cos=[];rel=[];ratio=[]
      for r in range(400):
        e=rng.standard_normal((K,D)); z=e*s
        sh=stein(z,eta); st=-e/s
        # params (mu, log sigma): g_mu = -mean(s), g_logsig = -mean(s*sigma*eps)
        ge=np.r_[-sh.mean(0),-(sh*s*e).mean(0)]; gx=np.r_[-st.mean(0),-(st*s*e).mean(0)]
        cos.append(ge@gx/np.linalg.norm(ge)/np.linalg.norm(gx)); rel.append(np.linalg.norm(ge-gx)/np.linalg.norm(gx)); ratio.append(np.linalg.norm(ge)/np.linalg.norm(gx))
      print(f"K={K:3d} {name:15s} eta={eta:5.2f}: cosine {np.mean(cos):.3f}  rel.err {np.mean(rel):.3f}  |g_est|/|g_exact| {np.mean(ratio):.3f}")
