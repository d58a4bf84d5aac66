//! NOTIFY (RFC 5465 §8):
//! `notify = "NOTIFY" SP (notify-set / notify-none)`,
//! `notify-set = "SET" [status-indicator] SP event-groups`,
//! `event-group = "(" filter-mailboxes SP events ")"`,
//! `events = ( "(" event *(SP event) ")" ) / "NONE"`.

use super::{Command, NotifyEvent, NotifyFilter, NotifyGroup, NotifySpec, Parser, R, err};

impl Parser<'_> {
    pub(super) fn notify(&mut self) -> R<Command> {
        self.sp()?;
        if self.keyword("NONE") {
            return Ok(Command::Notify(None));
        }
        if !self.keyword("SET") {
            return err("expected SET or NONE");
        }
        let mut spec = NotifySpec::default();
        self.sp()?;
        if self.keyword("STATUS") {
            spec.status = true;
            self.sp()?;
        }
        loop {
            spec.groups.push(self.event_group()?);
            if !self.maybe(b' ') {
                break;
            }
        }
        Ok(Command::Notify(Some(spec)))
    }

    fn event_group(&mut self) -> R<NotifyGroup> {
        self.expect(b'(')?;
        let filter = match self.word().as_str() {
            "SELECTED" => NotifyFilter::Selected,
            "SELECTED-DELAYED" => NotifyFilter::SelectedDelayed,
            "INBOXES" => NotifyFilter::Inboxes,
            "PERSONAL" => NotifyFilter::Personal,
            "SUBSCRIBED" => NotifyFilter::Subscribed,
            "SUBTREE" => {
                self.sp()?;
                NotifyFilter::Subtree(self.mailboxes()?)
            }
            "MAILBOXES" => {
                self.sp()?;
                NotifyFilter::Mailboxes(self.mailboxes()?)
            }
            other => return err(format!("unknown NOTIFY mailbox filter {other}")),
        };
        self.sp()?;
        let mut events = Vec::new();
        if !self.keyword("NONE") {
            self.expect(b'(')?;
            loop {
                events.push(self.event()?);
                if self.maybe(b')') {
                    break;
                }
                self.sp()?;
            }
        }
        self.expect(b')')?;
        Ok(NotifyGroup { filter, events })
    }

    /// `one-or-more-mailbox = mailbox / many-mailboxes`.
    fn mailboxes(&mut self) -> R<Vec<String>> {
        if !self.maybe(b'(') {
            return Ok(vec![self.mailbox()?]);
        }
        let mut out = Vec::new();
        loop {
            out.push(self.mailbox()?);
            if self.maybe(b')') {
                return Ok(out);
            }
            self.sp()?;
        }
    }

    fn event(&mut self) -> R<NotifyEvent> {
        Ok(match self.word().as_str() {
            "MESSAGENEW" => {
                let mut items = Vec::new();
                if self.peek() == Some(b' ') && self.buf.get(self.pos + 1) == Some(&b'(') {
                    self.pos += 2;
                    loop {
                        items.extend(self.fetch_att()?);
                        if self.maybe(b')') {
                            break;
                        }
                        self.sp()?;
                    }
                }
                NotifyEvent::MessageNew(items)
            }
            "MESSAGEEXPUNGE" => NotifyEvent::MessageExpunge,
            "FLAGCHANGE" => NotifyEvent::FlagChange,
            "ANNOTATIONCHANGE" => NotifyEvent::Other("AnnotationChange"),
            "MAILBOXNAME" => NotifyEvent::MailboxName,
            "SUBSCRIPTIONCHANGE" => NotifyEvent::SubscriptionChange,
            "MAILBOXMETADATACHANGE" => NotifyEvent::Other("MailboxMetadataChange"),
            "SERVERMETADATACHANGE" => NotifyEvent::Other("ServerMetadataChange"),
            "" => return err("expected a NOTIFY event"),
            other => return err(format!("unknown NOTIFY event {other}")),
        })
    }
}
