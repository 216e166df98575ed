//! A radix tree over model input sequences: each distinct prefix appears once, so it is forwarded once.
//!
//! Every log-likelihood request becomes one *input sequence* (spec §3 rule 5:
//! `(ctx ++ cont)` after left truncation, minus its final token) and a set of
//! *targets*: input position `p` (for the last `len(cont)` positions) predicts
//! token `seq[p + 1]`. Sequences are inserted into a radix tree whose edges are
//! runs of tokens; a node's edge is forwarded once, after its parent's KV cache,
//! and the logits of its positions score every target that lies on it.
//!
//! Edges do not copy tokens: an edge is a `(sequence, start, len)` slice of the
//! sequence that created it, and a sequence keeps only its tail from the position where
//! it left the tree (the part no earlier sequence holds): the four HellaSwag endings of a
//! document store their shared context once. A request's whole input is rebuilt from the
//! edges on its path ([`Trie::input`]). Children are kept sorted by first token while
//! building, and by [`Trie::finish`] in execution order: deepest subtree first
//! (so a model that runs out of memory on the longest input does so at once),
//! ties by first token (deterministic).

/// A scored position: logits row `offset` of the node's edge predicts `token`,
/// which is continuation token `k` of request `request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub offset: u32,
    pub token: u32,
    pub request: u32,
    pub k: u32,
}

/// One node: the edge tokens from its parent, its children and its targets.
#[derive(Debug, Clone)]
pub struct Node {
    /// Which input sequence holds this node's edge, where it starts (a position of the
    /// whole input) and its length.
    seq: u32,
    start: u32,
    len: u32,
    /// The node this one's edge continues (the root is its own parent).
    pub parent: u32,
    /// Depth after the edge (tokens from the root through this node).
    pub depth: u32,
    /// Longest depth below (or at) this node; set by [`Trie::finish`].
    pub max_depth: u32,
    /// Child node ids; sorted by first token while building, by execution order after
    /// [`Trie::finish`].
    pub children: Vec<u32>,
    pub targets: Vec<Target>,
}

/// The part of an input sequence that edges refer to: its tokens from `offset` on.
#[derive(Debug, Clone)]
struct Tail {
    offset: u32,
    tokens: Vec<u32>,
}

impl Tail {
    fn at(&self, pos: u32) -> u32 {
        self.tokens[(pos - self.offset) as usize]
    }

    fn slice(&self, start: u32, len: u32) -> &[u32] {
        let s = (start - self.offset) as usize;
        &self.tokens[s..s + len as usize]
    }
}

/// The radix tree and the input sequences it was built from.
#[derive(Debug, Clone)]
pub struct Trie {
    /// Per request, the tail of its input that edges refer to.
    seqs: Vec<Tail>,
    nodes: Vec<Node>,
    /// Per request, the node its input ends at (depth = input length).
    ends: Vec<u32>,
    /// Per request, the length of its input.
    input_lens: Vec<u32>,
    /// Number of continuation tokens of each request.
    cont_lens: Vec<u32>,
    /// The final continuation token of each request (scored, never an input).
    last_tokens: Vec<u32>,
    finished: bool,
}

/// Token counts of a plan: what the unshared path forwards and what the trie forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Requests planned.
    pub requests: usize,
    /// Sum over requests of their input length (one forward each, no sharing).
    pub unshared_tokens: u64,
    /// Sum of edge lengths: every distinct prefix once.
    pub shared_tokens: u64,
    /// Nodes with a non-empty edge (forward calls).
    pub forwards: usize,
}

impl Default for Trie {
    fn default() -> Self {
        Self::new()
    }
}

impl Trie {
    pub fn new() -> Trie {
        Trie {
            seqs: Vec::new(),
            nodes: vec![Node {
                seq: 0,
                start: 0,
                len: 0,
                parent: Self::ROOT,
                depth: 0,
                max_depth: 0,
                children: Vec::new(),
                targets: Vec::new(),
            }],
            ends: Vec::new(),
            input_lens: Vec::new(),
            cont_lens: Vec::new(),
            last_tokens: Vec::new(),
            finished: false,
        }
    }

    /// The root node's id.
    pub const ROOT: u32 = 0;

    /// Adds a request: the model sees `ctx ++ cont[..-1]` (already left-truncated by the
    /// caller, spec §3 rule 5), and the last `cont.len()` positions score `cont`. Returns the
    /// request id (0, 1, 2… in insertion order). `ctx` and `cont` must be non-empty.
    pub fn insert(&mut self, ctx: &[u32], cont: &[u32]) -> u32 {
        assert!(!self.finished, "Trie::insert after finish");
        assert!(
            !ctx.is_empty() && !cont.is_empty(),
            "empty context or continuation"
        );
        let request = self.cont_lens.len() as u32;
        let mut input = Vec::with_capacity(ctx.len() + cont.len() - 1);
        input.extend_from_slice(ctx);
        input.extend_from_slice(&cont[..cont.len() - 1]);
        let seq_id = self.seqs.len() as u32;
        let n = input.len();
        // Only a leaf made by this insert refers to this sequence (from `pos` on).
        let mut leaf_at: Option<usize> = None;
        // Walk down, splitting an edge where the new sequence leaves it.
        let mut node = Self::ROOT;
        let mut pos = 0usize;
        let mut path: Vec<(u32, usize)> = Vec::new(); // (node, depth before its edge)
        while pos < n {
            let tok = input[pos];
            let child = match self.find_child(node, tok) {
                Ok(i) => self.nodes[node as usize].children[i],
                Err(i) => {
                    let depth = n as u32;
                    let leaf = self.push_node(seq_id, pos as u32, (n - pos) as u32, depth, node);
                    self.nodes[node as usize].children.insert(i, leaf);
                    path.push((leaf, pos));
                    leaf_at = Some(pos);
                    pos = n;
                    node = leaf;
                    break;
                }
            };
            let (cseq, cstart, clen) = {
                let c = &self.nodes[child as usize];
                (c.seq as usize, c.start, c.len as usize)
            };
            let common = {
                let edge = self.seqs[cseq].slice(cstart, clen as u32);
                let rest = &input[pos..];
                edge.iter().zip(rest).take_while(|(a, b)| a == b).count()
            };
            if common < clen {
                self.split(node, child, common as u32);
                let mid = self.nodes[node as usize].children[self.find_child(node, tok).unwrap()];
                path.push((mid, pos));
                pos += common;
                node = mid;
            } else {
                path.push((child, pos));
                pos += clen;
                node = child;
            }
        }
        let offset = leaf_at.unwrap_or(n);
        input.drain(..offset);
        input.shrink_to_fit();
        self.seqs.push(Tail {
            offset: offset as u32,
            tokens: input,
        });
        self.ends.push(node);
        self.input_lens.push(n as u32);
        self.cont_lens.push(cont.len() as u32);
        self.last_tokens.push(cont[cont.len() - 1]);
        debug_assert_eq!(pos, n);
        // Targets: input position p in [n - c, n) predicts seq[p + 1] (cont[k]).
        let c = cont.len();
        for (k, &token) in cont.iter().enumerate() {
            let p = n - c + k;
            // The node whose edge holds position p: last path entry starting at or before p.
            let idx = path.partition_point(|&(_, start)| start <= p) - 1;
            let (nid, start) = path[idx];
            self.nodes[nid as usize].targets.push(Target {
                offset: (p - start) as u32,
                token,
                request,
                k: k as u32,
            });
        }
        request
    }

    fn push_node(&mut self, seq: u32, start: u32, len: u32, depth: u32, parent: u32) -> u32 {
        self.nodes.push(Node {
            seq,
            start,
            len,
            parent,
            depth,
            max_depth: depth,
            children: Vec::new(),
            targets: Vec::new(),
        });
        (self.nodes.len() - 1) as u32
    }

    /// Index of the child of `node` whose edge starts with `tok` (Ok) or where it would go.
    fn find_child(&self, node: u32, tok: u32) -> Result<usize, usize> {
        self.nodes[node as usize]
            .children
            .binary_search_by_key(&tok, |&c| self.first_token(c))
    }

    fn first_token(&self, node: u32) -> u32 {
        let n = &self.nodes[node as usize];
        self.seqs[n.seq as usize].at(n.start)
    }

    /// Splits `child` (a child of `parent`) after `at` edge tokens: a new middle node takes
    /// the first `at` tokens and the targets on them.
    fn split(&mut self, parent: u32, child: u32, at: u32) {
        let (seq, start, depth_before) = {
            let c = &self.nodes[child as usize];
            (c.seq, c.start, c.depth - c.len)
        };
        let mid = self.push_node(seq, start, at, depth_before + at, parent);
        let c = &mut self.nodes[child as usize];
        c.parent = mid;
        c.start += at;
        c.len -= at;
        let (moved, kept): (Vec<Target>, Vec<Target>) =
            c.targets.drain(..).partition(|t| t.offset < at);
        c.targets = kept
            .into_iter()
            .map(|mut t| {
                t.offset -= at;
                t
            })
            .collect();
        self.nodes[mid as usize].targets = moved;
        self.nodes[mid as usize].children.push(child);
        let p = &mut self.nodes[parent as usize];
        let slot = p.children.iter().position(|&x| x == child).unwrap();
        p.children[slot] = mid;
    }

    /// Orders children for execution (deepest subtree first, then by first token) and
    /// computes subtree depths. Call once after the last insert.
    pub fn finish(&mut self) {
        // Nodes are created before their descendants only partly (splits add parents
        // later), so compute max_depth by an explicit post-order walk.
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut stack = vec![Self::ROOT];
        while let Some(n) = stack.pop() {
            order.push(n);
            stack.extend(self.nodes[n as usize].children.iter().copied());
        }
        for &n in order.iter().rev() {
            let m = self.nodes[n as usize]
                .children
                .iter()
                .map(|&c| self.nodes[c as usize].max_depth)
                .max()
                .unwrap_or(0)
                .max(self.nodes[n as usize].depth);
            self.nodes[n as usize].max_depth = m;
        }
        for n in 0..self.nodes.len() {
            let mut ch = std::mem::take(&mut self.nodes[n].children);
            ch.sort_by_key(|&c| {
                (
                    std::cmp::Reverse(self.nodes[c as usize].max_depth),
                    self.first_token(c),
                )
            });
            self.nodes[n].children = ch;
            self.nodes[n]
                .targets
                .sort_by_key(|t| (t.offset, t.request, t.k));
        }
        self.finished = true;
    }

    pub fn node(&self, id: u32) -> &Node {
        &self.nodes[id as usize]
    }

    /// The tokens of `id`'s edge (empty for the root).
    pub fn edge(&self, id: u32) -> &[u32] {
        let n = &self.nodes[id as usize];
        if n.len == 0 {
            return &[];
        }
        self.seqs[n.seq as usize].slice(n.start, n.len)
    }

    pub fn num_nodes(&self) -> usize {
        self.nodes.len()
    }

    pub fn num_requests(&self) -> usize {
        self.cont_lens.len()
    }

    /// Continuation length of request `r`.
    pub fn cont_len(&self, r: u32) -> usize {
        self.cont_lens[r as usize] as usize
    }

    /// The final continuation token of request `r`.
    pub fn last_target(&self, r: u32) -> u32 {
        self.last_tokens[r as usize]
    }

    /// Model input of request `r` (`ctx ++ cont[..-1]`), rebuilt from the edges on its path.
    pub fn input(&self, r: u32) -> Vec<u32> {
        let mut path = Vec::new();
        let mut n = self.ends[r as usize];
        while n != Self::ROOT {
            path.push(n);
            n = self.nodes[n as usize].parent;
        }
        let mut out = Vec::with_capacity(self.input_len(r));
        for &id in path.iter().rev() {
            out.extend_from_slice(self.edge(id));
        }
        out
    }

    /// Length of request `r`'s model input.
    pub fn input_len(&self, r: u32) -> usize {
        self.input_lens[r as usize] as usize
    }

    /// Tokens the trie stores for its edges: [`Counts::shared_tokens`] (each distinct
    /// prefix once), not every request's whole input.
    pub fn stored_tokens(&self) -> usize {
        self.seqs.iter().map(|t| t.tokens.len()).sum()
    }

    /// Tokens request `r` added to the trie when it was inserted: its input from where it
    /// left what earlier requests had stored (what it costs to forward after them).
    pub fn new_tokens(&self, r: u32) -> usize {
        self.seqs[r as usize].tokens.len()
    }

    pub fn counts(&self) -> Counts {
        Counts {
            requests: self.num_requests(),
            unshared_tokens: self.input_lens.iter().map(|&l| l as u64).sum(),
            shared_tokens: self.nodes.iter().map(|n| n.len as u64).sum(),
            forwards: self.nodes.iter().filter(|n| n.len > 0).count(),
        }
    }

    /// Node ids in execution order (depth first, children in their [`Self::finish`] order).
    pub fn preorder(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack = vec![Self::ROOT];
        while let Some(n) = stack.pop() {
            out.push(n);
            stack.extend(self.nodes[n as usize].children.iter().rev().copied());
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Rebuilds every request's input from the edges on its path and its targets'
    /// positions; checks they match what was inserted.
    fn check(trie: &Trie, reqs: &[(Vec<u32>, Vec<u32>)]) {
        let mut path_tokens: Vec<Vec<u32>> = vec![Vec::new(); trie.num_nodes()];
        let mut found: Vec<Vec<Option<(usize, u32)>>> =
            reqs.iter().map(|(_, c)| vec![None; c.len()]).collect();
        for id in trie.preorder() {
            // Parent tokens: find by scanning (small test trees).
            let parent =
                (0..trie.num_nodes() as u32).find(|&p| trie.node(p).children.contains(&id));
            let mut toks = parent
                .map(|p| path_tokens[p as usize].clone())
                .unwrap_or_default();
            assert_eq!(trie.node(id).parent, parent.unwrap_or(Trie::ROOT));
            let before = toks.len();
            toks.extend_from_slice(trie.edge(id));
            assert_eq!(toks.len() as u32, trie.node(id).depth);
            for t in &trie.node(id).targets {
                found[t.request as usize][t.k as usize] =
                    Some((before + t.offset as usize, t.token));
            }
            path_tokens[id as usize] = toks;
        }
        for (r, (ctx, cont)) in reqs.iter().enumerate() {
            let mut input = ctx.clone();
            input.extend_from_slice(&cont[..cont.len() - 1]);
            assert_eq!(trie.input(r as u32), input);
            assert_eq!(trie.input_len(r as u32), input.len());
            for (k, f) in found[r].iter().enumerate() {
                let (p, tok) = f.expect("every continuation token has a target");
                assert_eq!(tok, cont[k]);
                assert_eq!(p, input.len() - cont.len() + k);
            }
        }
    }

    #[test]
    fn shares_prefixes_and_places_every_target() {
        let reqs: Vec<(Vec<u32>, Vec<u32>)> = vec![
            (vec![1, 2, 3, 4], vec![5]),
            (vec![1, 2, 3, 4], vec![6]),
            (vec![1, 2, 3, 4], vec![7, 8, 9]),
            (vec![1, 2, 3, 4], vec![7, 8, 10]),
            (vec![1, 2, 9], vec![4, 4]),
            (vec![1, 2], vec![3]),
            (vec![8], vec![1, 2, 3]),
            (vec![1, 2, 3, 4], vec![5]),
        ];
        let mut t = Trie::new();
        for (c, k) in &reqs {
            t.insert(c, k);
        }
        t.finish();
        check(&t, &reqs);
        let c = t.counts();
        // Inputs: [1234] x2, [123478] [123478] [1294] [12] [812] [1234].
        assert_eq!(c.unshared_tokens, 4 + 4 + 6 + 6 + 4 + 2 + 3 + 4);
        // Distinct prefixes: 1,2,3,4,7,8 + 9,4 + 8,1,2.
        assert_eq!(c.shared_tokens, 6 + 2 + 3);
        // Stored: each sequence from where it left the tree (no copy of a shared context).
        // Leaves made by requests 0, 2, 4 and 6: [1234], [78], [94], [812].
        assert_eq!(t.stored_tokens(), 4 + 2 + 2 + 3);
        // Deepest subtree first under the root.
        let root = t.node(Trie::ROOT);
        let depths: Vec<u32> = root.children.iter().map(|&c| t.node(c).max_depth).collect();
        assert!(depths.windows(2).all(|w| w[0] >= w[1]), "{depths:?}");
    }

    /// A seeded pseudo-random source: each call gives a number below its argument.
    pub(crate) fn below(seed: u64) -> impl FnMut(u64) -> u64 {
        let mut s = seed;
        move |m: u64| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) % m
        }
    }

    /// Task-like requests: shared few-shot prefixes, questions after them, several
    /// continuations per question; small alphabets add accidental sharing and splits.
    pub(crate) fn task_like_requests(
        n_prefixes: usize,
        seed: u64,
        vocab: u64,
    ) -> Vec<(Vec<u32>, Vec<u32>)> {
        let mut next = below(seed);
        let mut reqs = Vec::new();
        for _ in 0..n_prefixes {
            let prefix: Vec<u32> = (0..5 + next(15)).map(|_| next(vocab) as u32).collect();
            for _ in 0..1 + next(4) {
                let mut ctx = prefix.clone();
                ctx.extend((0..1 + next(5)).map(|_| next(3) as u32));
                for _ in 0..1 + next(4) {
                    let cont: Vec<u32> = (0..1 + next(4)).map(|_| next(vocab) as u32).collect();
                    reqs.push((ctx.clone(), cont));
                }
            }
        }
        reqs
    }

    #[test]
    fn random_sequences_round_trip() {
        let reqs = task_like_requests(60, 12345, 3);
        let mut t = Trie::new();
        for (c, k) in &reqs {
            t.insert(c, k);
        }
        t.finish();
        check(&t, &reqs);
        let c = t.counts();
        assert!(c.shared_tokens < c.unshared_tokens / 2, "{c:?}");
        // Every distinct prefix token is stored once: the tails partition the edges.
        assert_eq!(t.stored_tokens() as u64, c.shared_tokens);
    }
}
