//! An order-statistics B+tree of `u32` handles. The tree does not know what a handle means: every
//! operation takes the ordering (or a prefix predicate) as a closure, so the sorted set can keep
//! each member once (in its slot arena) and order handles by `(score, member)`.
//!
//! Leaves hold up to `LEAF_MAX` handles in one array; inner nodes keep, per child, its element
//! count and its largest handle. Rank, select, and "how many elements satisfy a prefix
//! predicate" are O(log n); a range of m elements is O(log n + m).

use std::cmp::Ordering;

const LEAF_MAX: usize = 128;
const INNER_MAX: usize = 64;

#[derive(Clone, Debug)]
enum Node {
    Leaf(Vec<u32>),
    Inner(Box<Inner>),
}

#[derive(Clone, Debug)]
struct Inner {
    kids: Vec<Node>,
    counts: Vec<usize>,
    maxes: Vec<u32>,
    total: usize,
}

impl Node {
    fn len(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(n) => n.total,
        }
    }

    fn underfull(&self) -> bool {
        match self {
            Node::Leaf(v) => v.len() < LEAF_MAX / 4,
            Node::Inner(n) => n.kids.len() < INNER_MAX / 4,
        }
    }

    fn max(&self) -> u32 {
        match self {
            Node::Leaf(v) => *v.last().expect("non-empty leaf"),
            Node::Inner(n) => *n.maxes.last().expect("non-empty inner"),
        }
    }

    /// Splits an overfull node in half, returning the right half.
    fn split_if_over(&mut self) -> Option<Node> {
        match self {
            Node::Leaf(v) if v.len() > LEAF_MAX => {
                let right = v.split_off(v.len() / 2);
                v.shrink_to(LEAF_MAX + 1);
                Some(Node::Leaf(right))
            }
            Node::Inner(n) if n.kids.len() > INNER_MAX => {
                let at = n.kids.len() / 2;
                let kids = n.kids.split_off(at);
                let counts = n.counts.split_off(at);
                let maxes = n.maxes.split_off(at);
                let moved: usize = counts.iter().sum();
                n.total -= moved;
                Some(Node::Inner(Box::new(Inner { kids, counts, maxes, total: moved })))
            }
            _ => None,
        }
    }

    /// Appends `other` (every element greater than ours) to `self`; both at the same level.
    fn absorb(&mut self, other: Node) {
        match (self, other) {
            (Node::Leaf(a), Node::Leaf(b)) => a.extend(b),
            (Node::Inner(a), Node::Inner(b)) => {
                let b = *b;
                a.kids.extend(b.kids);
                a.counts.extend(b.counts);
                a.maxes.extend(b.maxes);
                a.total += b.total;
            }
            _ => unreachable!("siblings live at the same level"),
        }
    }

    fn insert(&mut self, h: u32, cmp: &dyn Fn(u32, u32) -> Ordering) -> Option<Node> {
        match self {
            Node::Leaf(v) => {
                let pos = v.partition_point(|&e| cmp(e, h) == Ordering::Less);
                v.insert(pos, h);
            }
            Node::Inner(n) => {
                let i = n.maxes.partition_point(|&m| cmp(m, h) == Ordering::Less).min(n.kids.len() - 1);
                let split = n.kids[i].insert(h, cmp);
                n.total += 1;
                n.counts[i] = n.kids[i].len();
                n.maxes[i] = n.kids[i].max();
                if let Some(right) = split {
                    n.counts.insert(i + 1, right.len());
                    n.maxes.insert(i + 1, right.max());
                    n.kids.insert(i + 1, right);
                }
            }
        }
        self.split_if_over()
    }

    fn remove(&mut self, h: u32, cmp: &dyn Fn(u32, u32) -> Ordering) -> bool {
        match self {
            Node::Leaf(v) => {
                let pos = v.partition_point(|&e| cmp(e, h) == Ordering::Less);
                if pos < v.len() && v[pos] == h {
                    v.remove(pos);
                    true
                } else {
                    false
                }
            }
            Node::Inner(n) => {
                let i = n.maxes.partition_point(|&m| cmp(m, h) == Ordering::Less);
                if i == n.kids.len() || !n.kids[i].remove(h, cmp) {
                    return false;
                }
                n.total -= 1;
                n.counts[i] -= 1;
                if n.kids[i].len() == 0 {
                    n.kids.remove(i);
                    n.counts.remove(i);
                    n.maxes.remove(i);
                    return true;
                }
                n.maxes[i] = n.kids[i].max();
                if n.kids[i].underfull() && n.kids.len() > 1 {
                    let a = if i + 1 < n.kids.len() { i } else { i - 1 };
                    let right = n.kids.remove(a + 1);
                    n.counts.remove(a + 1);
                    n.maxes.remove(a + 1);
                    n.kids[a].absorb(right);
                    let split = n.kids[a].split_if_over();
                    n.counts[a] = n.kids[a].len();
                    n.maxes[a] = n.kids[a].max();
                    if let Some(r) = split {
                        n.counts.insert(a + 1, r.len());
                        n.maxes.insert(a + 1, r.max());
                        n.kids.insert(a + 1, r);
                    }
                }
                true
            }
        }
    }

    fn count_while(&self, pred: &dyn Fn(u32) -> bool) -> usize {
        match self {
            Node::Leaf(v) => v.partition_point(|&e| pred(e)),
            Node::Inner(n) => {
                let i = n.maxes.partition_point(|&m| pred(m));
                let before: usize = n.counts[..i].iter().sum();
                before + if i < n.kids.len() { n.kids[i].count_while(pred) } else { 0 }
            }
        }
    }

    fn get(&self, mut rank: usize) -> u32 {
        match self {
            Node::Leaf(v) => v[rank],
            Node::Inner(n) => {
                for (k, &c) in n.kids.iter().zip(&n.counts) {
                    if rank < c {
                        return k.get(rank);
                    }
                    rank -= c;
                }
                unreachable!("rank below len")
            }
        }
    }

    fn collect(&self, start: usize, end: usize, out: &mut Vec<u32>) {
        match self {
            Node::Leaf(v) => out.extend_from_slice(&v[start..end]),
            Node::Inner(n) => {
                let mut off = 0;
                for (k, &c) in n.kids.iter().zip(&n.counts) {
                    if off >= end {
                        break;
                    }
                    if off + c > start {
                        k.collect(start.saturating_sub(off), (end - off).min(c), out);
                    }
                    off += c;
                }
            }
        }
    }

    fn heap_size(&self) -> usize {
        match self {
            Node::Leaf(v) => v.capacity() * 4,
            Node::Inner(n) => {
                std::mem::size_of::<Inner>()
                    + n.kids.capacity() * (std::mem::size_of::<Node>() + 12)
                    + n.kids.iter().map(Node::heap_size).sum::<usize>()
            }
        }
    }

    #[cfg(test)]
    fn check(&self, cmp: &dyn Fn(u32, u32) -> Ordering, root: bool) {
        match self {
            Node::Leaf(v) => {
                assert!(v.windows(2).all(|w| cmp(w[0], w[1]) == Ordering::Less));
                assert!(v.len() <= LEAF_MAX);
            }
            Node::Inner(n) => {
                assert!(n.kids.len() <= INNER_MAX && (root || !n.kids.is_empty()));
                assert_eq!(n.total, n.counts.iter().sum::<usize>());
                for (i, k) in n.kids.iter().enumerate() {
                    assert_eq!(n.counts[i], k.len());
                    assert!(k.len() > 0);
                    assert_eq!(n.maxes[i], k.max());
                    k.check(cmp, false);
                }
            }
        }
    }
}

/// The tree; empty is a single empty leaf.
#[derive(Clone, Debug)]
pub struct OsTree {
    root: Node,
}

impl Default for OsTree {
    fn default() -> Self {
        OsTree { root: Node::Leaf(Vec::new()) }
    }
}

impl OsTree {
    pub fn len(&self) -> usize {
        self.root.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inserts `h`, which must not be present; `cmp` is a total order over handles.
    pub fn insert(&mut self, h: u32, cmp: &dyn Fn(u32, u32) -> Ordering) {
        if let Some(right) = self.root.insert(h, cmp) {
            let left = std::mem::replace(&mut self.root, Node::Leaf(Vec::new()));
            let (cl, cr) = (left.len(), right.len());
            let (ml, mr) = (left.max(), right.max());
            self.root = Node::Inner(Box::new(Inner {
                kids: vec![left, right],
                counts: vec![cl, cr],
                maxes: vec![ml, mr],
                total: cl + cr,
            }));
        }
    }

    /// Removes `h` (located with `cmp`); false when absent.
    pub fn remove(&mut self, h: u32, cmp: &dyn Fn(u32, u32) -> Ordering) -> bool {
        let removed = self.root.remove(h, cmp);
        loop {
            match &mut self.root {
                Node::Inner(n) if n.kids.len() == 1 => {
                    let only = n.kids.pop().expect("one child");
                    self.root = only;
                }
                Node::Inner(n) if n.kids.is_empty() => self.root = Node::Leaf(Vec::new()),
                _ => break,
            }
        }
        removed
    }

    /// How many leading elements satisfy `pred`, which must hold for a prefix of the order.
    pub fn count_while(&self, pred: &dyn Fn(u32) -> bool) -> usize {
        self.root.count_while(pred)
    }

    /// The element at `rank` (0-based); `rank < len`.
    pub fn get(&self, rank: usize) -> u32 {
        self.root.get(rank)
    }

    /// Elements with ranks in `start..end`, ascending.
    pub fn range(&self, start: usize, end: usize) -> Vec<u32> {
        let end = end.min(self.len());
        let mut out = Vec::with_capacity(end.saturating_sub(start));
        if start < end {
            self.root.collect(start, end, &mut out);
        }
        out
    }

    pub fn heap_size(&self) -> usize {
        self.root.heap_size()
    }

    /// Asserts the tree's invariants (tests).
    #[cfg(test)]
    pub fn check(&self, cmp: &dyn Fn(u32, u32) -> Ordering) {
        self.root.check(cmp, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        #[test]
        fn matches_btreeset(ops in proptest::collection::vec((any::<bool>(), 0u32..3000), 1..4000)) {
            let cmp = |a: u32, b: u32| a.cmp(&b);
            let mut t = OsTree::default();
            let mut m = BTreeSet::new();
            for (ins, v) in ops {
                if ins {
                    if m.insert(v) { t.insert(v, &cmp); }
                } else {
                    prop_assert_eq!(t.remove(v, &cmp), m.remove(&v));
                }
            }
            t.check(&cmp);
            let all: Vec<u32> = m.iter().copied().collect();
            prop_assert_eq!(t.range(0, all.len()), all.clone());
            for (i, &v) in all.iter().enumerate().step_by(37) {
                prop_assert_eq!(t.get(i), v);
                prop_assert_eq!(t.count_while(&|e| e < v), i);
                prop_assert_eq!(t.range(i, i + 5), all[i..(i + 5).min(all.len())].to_vec());
            }
        }
    }
}
