//! LIST and LSUB (RFC 9051 §6.3.9, RFC 5258 LIST-EXTENDED selection and return options,
//! RFC 5819 LIST-STATUS) and STATUS items.

use super::{Command, Parser, R, err};

impl Parser<'_> {
    pub(super) fn list(&mut self, lsub: bool) -> R<Command> {
        self.sp()?;
        let (mut subscribed_only, mut special_use, mut return_subscribed, mut children, mut status) =
            (false, false, false, false, Vec::new());
        if !lsub && self.maybe(b'(') {
            while !self.maybe(b')') {
                self.maybe(b' ');
                match self.word().as_str() {
                    "SUBSCRIBED" => subscribed_only = true,
                    "SPECIAL-USE" => special_use = true,
                    "REMOTE" | "RECURSIVEMATCH" => {}
                    other => return err(format!("unsupported LIST selection {other}")),
                }
            }
            self.sp()?;
        }
        let reference = self.mailbox_or_empty()?;
        self.sp()?;
        let mut patterns = Vec::new();
        if !lsub && self.maybe(b'(') {
            loop {
                patterns.push(self.list_mailbox()?);
                if self.maybe(b')') {
                    break;
                }
                self.sp()?;
            }
        } else {
            patterns.push(self.list_mailbox()?);
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
                    "SUBSCRIBED" => return_subscribed = true,
                    "CHILDREN" => children = true,
                    "SPECIAL-USE" => special_use = true,
                    "STATUS" => {
                        self.sp()?;
                        status = self.status_items()?;
                    }
                    other => return err(format!("unsupported LIST return option {other}")),
                }
            }
        }
        Ok(Command::List {
            reference,
            patterns,
            subscribed_only,
            return_subscribed,
            special_use,
            children,
            status,
            lsub,
        })
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
