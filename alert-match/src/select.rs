//! Choosing the rules that fire for each alert, without one regex scan per rule.

use std::collections::{BTreeMap, HashMap};

use regex::RegexSet;

use alert_core::{Alert, Notification};

use crate::{MatchOp, Mode, Rule, pattern};

/// What one selected rule runs for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target<'n> {
    /// One alert (a per-alert rule).
    Alert(&'n Alert),
    /// The whole notification (a per-group rule).
    Group,
}

/// A rule selected for a notification: the rule's index in the [`RuleSet`] and its target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Selection<'n> {
    /// Index into [`RuleSet::rules`].
    pub rule: usize,
    /// The alert, or the group.
    pub target: Target<'n>,
}

/// An ordered set of rules, indexed for selection.
///
/// Each rule with an equality matcher is filed under one `(label, value)` key (its
/// `alertname` matcher when it has one); selecting for an alert looks up the alert's value
/// for each key label. Rules without an equality matcher but with `=~` matchers are
/// prefiltered by one [`regex::RegexSet`] per label name, which runs every such regex on
/// the alert's value in one pass. Only rules with neither (just `!=` and `!~`) are checked
/// one by one for every alert. So 10,000 rules cost about what 100 cost.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// label name → label value → rule indices, ascending.
    index: HashMap<String, HashMap<String, Vec<usize>>>,
    /// Rules keyed by their `=~` matchers.
    regexes: RegexIndex,
    /// Rules with neither an equality nor a regex matcher, ascending.
    unindexed: Vec<usize>,
}

/// The prefilter for rules whose only positive matchers are regexes: a rule is a candidate
/// when every one of its `=~` matchers matched.
#[derive(Clone, Debug, Default)]
struct RegexIndex {
    /// Per label name: the distinct patterns on it, and for each pattern the slots (into
    /// `rules`) of the matchers that use it.
    labels: Vec<(String, RegexSet, Vec<Vec<usize>>)>,
    /// Per slot: the rule index and how many `=~` matchers it has.
    rules: Vec<(usize, usize)>,
}

impl RegexIndex {
    /// Files `rules` (indices with at least one `=~` matcher) by their regexes. The rules
    /// whose sets cannot be built (over the regex size limit) are returned, to be checked
    /// one by one.
    fn new(all: &[Rule], rules: Vec<usize>) -> (Self, Vec<usize>) {
        // label → pattern → slots
        let mut by_label: BTreeMap<&str, BTreeMap<&str, Vec<usize>>> = BTreeMap::new();
        let mut slots = Vec::with_capacity(rules.len());
        for (slot, &i) in rules.iter().enumerate() {
            let regexes: Vec<_> = all[i]
                .matchers
                .iter()
                .filter(|m| m.op() == MatchOp::Regex)
                .filter_map(|m| Some((m.name(), m.regex()?.as_str())))
                .collect();
            for &(name, pattern) in &regexes {
                by_label
                    .entry(name)
                    .or_default()
                    .entry(pattern)
                    .or_default()
                    .push(slot);
            }
            slots.push((i, regexes.len()));
        }
        let mut labels = Vec::with_capacity(by_label.len());
        let mut failed = Vec::new();
        for (name, patterns) in by_label {
            match pattern::set_of(patterns.keys().copied()) {
                Some(set) => labels.push((name.to_owned(), set, patterns.into_values().collect())),
                None => failed.extend(patterns.into_values().flatten()),
            }
        }
        if failed.is_empty() {
            return (
                Self {
                    labels,
                    rules: slots,
                },
                Vec::new(),
            );
        }
        // Too big for a set: check those rules one by one, and index the rest.
        failed.sort_unstable();
        failed.dedup();
        let slow: Vec<usize> = failed.iter().map(|&slot| rules[slot]).collect();
        let fast = rules.into_iter().filter(|i| !slow.contains(i)).collect();
        let (index, more) = Self::new(all, fast);
        (index, slow.into_iter().chain(more).collect())
    }

    /// Appends the rules whose `=~` matchers all match `alert`.
    fn candidates(&self, alert: &Alert, out: &mut Vec<usize>) {
        if self.rules.is_empty() {
            return;
        }
        let mut hits = vec![0usize; self.rules.len()];
        for (name, set, slots) in &self.labels {
            for pattern in set.matches(alert.label(name)).iter() {
                for &slot in &slots[pattern] {
                    hits[slot] += 1;
                }
            }
        }
        out.extend(
            self.rules
                .iter()
                .zip(hits)
                .filter(|&(&(_, needed), hit)| hit == needed)
                .map(|(&(rule, _), _)| rule),
        );
    }
}

impl RuleSet {
    /// Builds the set and its index. Rule order is kept: selections come out in it.
    pub fn new(rules: Vec<Rule>) -> Self {
        let mut index: HashMap<String, HashMap<String, Vec<usize>>> = HashMap::new();
        let mut by_regex = Vec::new();
        let mut unindexed = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let of = |op| rule.matchers.iter().filter(move |m| m.op() == op);
            let key = of(MatchOp::Equal)
                .find(|m| m.name() == "alertname")
                .or_else(|| of(MatchOp::Equal).next());
            match key {
                Some(m) => index
                    .entry(m.name().to_string())
                    .or_default()
                    .entry(m.value().to_string())
                    .or_default()
                    .push(i),
                None if of(MatchOp::Regex).next().is_some() => by_regex.push(i),
                None => unindexed.push(i),
            }
        }
        let (regexes, slow) = RegexIndex::new(&rules, by_regex);
        unindexed.extend(slow);
        unindexed.sort_unstable();
        Self {
            rules,
            index,
            regexes,
            unindexed,
        }
    }

    /// The rules, in config order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Indices of the rules that select `alert` arriving through `receiver`, ascending.
    pub fn matching(&self, receiver: &str, alert: &Alert) -> Vec<usize> {
        let mut candidates = Vec::new();
        for (name, by_value) in &self.index {
            if let Some(rules) = by_value.get(alert.label(name)) {
                candidates.extend_from_slice(rules);
            }
        }
        self.regexes.candidates(alert, &mut candidates);
        candidates.extend_from_slice(&self.unindexed);
        candidates.sort_unstable();
        candidates.retain(|&i| self.rules[i].selects(receiver, alert));
        candidates
    }

    /// Every (rule, target) pair a notification fires: per-alert rules once for each
    /// matching alert, per-group rules once when any alert matches. Ordered by alert, then
    /// rule; group selections come last, in rule order.
    pub fn select<'n>(&self, n: &'n Notification) -> Vec<Selection<'n>> {
        let receiver = n.receiver_name();
        let mut out = Vec::new();
        let mut groups = Vec::new();
        for alert in &n.alerts {
            for rule in self.matching(&receiver, alert) {
                match self.rules[rule].mode {
                    Mode::PerAlert => out.push(Selection {
                        rule,
                        target: Target::Alert(alert),
                    }),
                    Mode::PerGroup => groups.push(rule),
                }
            }
        }
        groups.sort_unstable();
        groups.dedup();
        out.extend(groups.into_iter().map(|rule| Selection {
            rule,
            target: Target::Group,
        }));
        out
    }
}
