//! LIST and LSUB (RFC 9051 §6.3.9, RFC 5258 LIST-EXTENDED selection and return options,
//! RFC 5819 LIST-STATUS) and STATUS items.

use super::{Command, ListArgs, Parser, R, err};

impl Parser<'_> {
    /// `list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]`
    /// (RFC 5258 §6), and `lsub = "LSUB" SP mailbox SP list-mailbox`.
    pub(super) fn list(&mut self, lsub: bool) -> R<Command> {
        self.sp()?;
        let mut a = ListArgs {
            lsub,
            ..ListArgs::default()
        };
        if !lsub && self.maybe(b'(') {
            let mut remote_only = true;
            while !self.maybe(b')') {
                self.maybe(b' ');
                match self.word().as_str() {
                    "SUBSCRIBED" => a.subscribed = true,
                    "SPECIAL-USE" => a.special_use = true,
                    "RECURSIVEMATCH" => {
                        a.recursive = true;
                        continue;
                    }
                    "REMOTE" => continue,
                    "" => return err("expected a LIST selection option"),
                    other => return err(format!("unsupported LIST selection {other}")),
                }
                remote_only = false;
            }
            // RFC 5258 §3: RECURSIVEMATCH only modifies another selection option.
            if a.recursive && remote_only {
                return err("RECURSIVEMATCH needs another selection option");
            }
            self.sp()?;
        }
        a.reference = self.mailbox_or_empty()?;
        self.sp()?;
        if !lsub && self.maybe(b'(') {
            loop {
                a.patterns.push(self.list_mailbox()?);
                if self.maybe(b')') {
                    break;
                }
                self.sp()?;
            }
        } else {
            a.patterns.push(self.list_mailbox()?);
        }
        if !lsub && self.maybe(b' ') {
            if !self.keyword("RETURN") {
                return err("expected RETURN");
            }
            self.sp()?;
            self.expect(b'(')?;
            while !self.maybe(b')') {
                self.maybe(b' ');
                match self.word().as_str() {
                    "SUBSCRIBED" => a.return_subscribed = true,
                    "CHILDREN" => a.return_children = true,
                    // Special-use attributes are always returned.
                    "SPECIAL-USE" => {}
                    "STATUS" => {
                        self.sp()?;
                        a.status = self.status_items()?;
                    }
                    "" => return err("expected a LIST return option"),
                    other => return err(format!("unsupported LIST return option {other}")),
                }
            }
        }
        Ok(Command::List(a))
    }

    pub(super) fn mailbox_or_empty(&mut self) -> R<String> {
        if self.peek() == Some(b'"') || self.peek() == Some(b'{') {
            return Self::text(self.string()?);
        }
        self.astring()
    }

    pub(super) fn status_items(&mut self) -> R<Vec<String>> {
        self.expect(b'(')?;
        let mut items = Vec::new();
        while !self.maybe(b')') {
            self.maybe(b' ');
            let w = self.word();
            match w.as_str() {
                "MESSAGES" | "RECENT" | "UIDNEXT" | "UIDVALIDITY" | "UNSEEN" | "DELETED" | "SIZE"
                | "HIGHESTMODSEQ" => items.push(w),
                "" => return err("expected a status item"),
                other => return err(format!("unknown status item {other}")),
            }
        }
        Ok(items)
    }
}
