//! Independent parts of one run: the connected components of the graph of fleets, the
//! vaults their policies live in, the links of their paths and the restores of their VMs.
//!
//! Two fleets interact only through something they share: a vault (its gates and its
//! stored bytes), a link (max-min fair sharing) or a policy. Storage accounts, cloud
//! services and a fleet's own gate belong to one fleet. Restores follow their fleet (they
//! copy from its vault on its path). Fleets in different components never touch, so each
//! component can be simulated alone, from the sub-configuration [`sub_config`] builds.
//!
//! Components are numbered by their lowest fleet index. [`assign`] deals them to `n`
//! parts: component `k` goes to part `k mod n` (0-based), so part 1 of 2 holds the 1st,
//! 3rd, 5th … component in fleet order. Entities used by no fleet (an unused vault,
//! link or policy) go with the first component, so that every entity is simulated
//! exactly once.

use super::config::Config;

/// Union-find over entity slots.
struct Dsu(Vec<usize>);

impl Dsu {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        // The lower slot becomes the root, so roots are stable.
        if a != b {
            let (lo, hi) = (a.min(b), a.max(b));
            self.0[hi] = lo;
        }
    }
}

/// One component: the indices (into the full [`Config`]) of what it holds, each sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Component {
    /// Fleet indices.
    pub fleets: Vec<usize>,
    /// Vault indices.
    pub vaults: Vec<usize>,
    /// Policy indices.
    pub policies: Vec<usize>,
    /// Link indices.
    pub links: Vec<usize>,
    /// Restore indices.
    pub restores: Vec<usize>,
}

impl Component {
    fn extend(&mut self, o: &Component) {
        self.fleets.extend(&o.fleets);
        self.vaults.extend(&o.vaults);
        self.policies.extend(&o.policies);
        self.links.extend(&o.links);
        self.restores.extend(&o.restores);
        for v in [
            &mut self.fleets,
            &mut self.vaults,
            &mut self.policies,
            &mut self.links,
            &mut self.restores,
        ] {
            v.sort_unstable();
        }
    }
}

/// The connected components of `c`, ordered by their lowest fleet index (a configuration
/// without fleets is one component). Unused vaults, policies and links join the first.
pub fn components(c: &Config) -> Vec<Component> {
    let (nf, nv, np) = (c.fleets.len(), c.vaults.len(), c.policies.len());
    let vault = |v: usize| nf + v;
    let policy = |p: usize| nf + nv + p;
    let link = |l: usize| nf + nv + np + l;
    let mut d = Dsu((0..nf + nv + np + c.links.len()).collect());
    for (p, pol) in c.policies.iter().enumerate() {
        d.union(policy(p), vault(pol.vault));
    }
    for (f, fl) in c.fleets.iter().enumerate() {
        d.union(f, policy(fl.policy));
        for &l in &fl.path {
            d.union(f, link(l));
        }
    }
    let mut roots: Vec<usize> = Vec::new();
    let mut comps: Vec<Component> = Vec::new();
    let mut slot = |d: &mut Dsu, x: usize, comps: &mut Vec<Component>| -> Option<usize> {
        let r = d.find(x);
        let i = roots.iter().position(|&q| q == r);
        // Only fleets open components; anything else without a fleet goes to the first.
        match i {
            Some(i) => Some(i),
            None if x < nf => {
                roots.push(r);
                comps.push(Component::default());
                Some(comps.len() - 1)
            }
            None => None,
        }
    };
    for f in 0..nf {
        let i = slot(&mut d, f, &mut comps).expect("a fleet opens its component");
        comps[i].fleets.push(f);
    }
    if comps.is_empty() {
        comps.push(Component::default());
    }
    for v in 0..nv {
        let i = slot(&mut d, vault(v), &mut comps).unwrap_or(0);
        comps[i].vaults.push(v);
    }
    for p in 0..np {
        let i = slot(&mut d, policy(p), &mut comps).unwrap_or(0);
        comps[i].policies.push(p);
    }
    for l in 0..c.links.len() {
        let i = slot(&mut d, link(l), &mut comps).unwrap_or(0);
        comps[i].links.push(l);
    }
    for (r, rs) in c.restores.iter().enumerate() {
        let i = slot(&mut d, rs.fleet, &mut comps).expect("a restore's fleet");
        comps[i].restores.push(r);
    }
    comps
}

/// Deals `comps` to `n` parts: component `k` to part `k mod n`; part `i` (0-based) is the
/// union of its components. A part may be empty when there are fewer components than
/// parts.
pub fn assign(comps: &[Component], n: usize) -> Vec<Component> {
    let n = n.max(1);
    let mut parts = vec![Component::default(); n];
    for (k, comp) in comps.iter().enumerate() {
        parts[k % n].extend(comp);
    }
    parts
}

/// The configuration of one part: its fleets, vaults, policies, links and restores in
/// their original order, references renumbered; everything run-wide (seed, timing,
/// support, regions, prices) unchanged, so that every random stream — keyed by the
/// seed, the entity's name and its index within its fleet — draws the same values.
pub fn sub_config(c: &Config, part: &Component) -> Config {
    let renumber = |kept: &[usize], i: usize| {
        kept.binary_search(&i)
            .expect("a part holds what its entities refer to")
    };
    let mut s = c.clone();
    s.part = true;
    s.vaults = part.vaults.iter().map(|&v| c.vaults[v].clone()).collect();
    s.links = part.links.iter().map(|&l| c.links[l].clone()).collect();
    s.policies = part
        .policies
        .iter()
        .map(|&p| {
            let mut pol = c.policies[p].clone();
            pol.vault = renumber(&part.vaults, pol.vault);
            pol
        })
        .collect();
    s.fleets = part
        .fleets
        .iter()
        .map(|&f| {
            let mut fl = c.fleets[f].clone();
            fl.policy = renumber(&part.policies, fl.policy);
            fl.path = fl.path.iter().map(|&l| renumber(&part.links, l)).collect();
            fl
        })
        .collect();
    s.restores = part
        .restores
        .iter()
        .map(|&r| {
            let mut rs = c.restores[r].clone();
            rs.fleet = renumber(&part.fleets, rs.fleet);
            rs
        })
        .collect();
    s
}
