//! The AI bot, made local and deterministic: which bots a message mentions, the reply each gives, and
//! how that reply is cut into stream chunks. Pure functions; the gateway does the streaming (timing,
//! events, storing the final message).
//!
//! The original called a hosted LLM. A load test must not depend on one, and a reference must be
//! reproducible, so the reply is a fixed function of (bot, question) that still has the shape of an LLM
//! answer: a couple of dozen chunks cut at word boundaries and a fenced code block (so `isCodeBlock`
//! toggles).
//!
//! Every chunk event carries the whole text so far, so the reply's size and its chunk count decide
//! what a mention costs each member: the question is capped ([`cap_question`]) and the chunk count is
//! bounded ([`chunks`]), which keeps that cost a fixed multiple of a bounded reply.

/// The bots a message can mention, as written after `@`.
pub const AI_NAMES: [&str; 2] = ["wayneAI", "consultingAI"];

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Positions of `@name` in `content` where the name ends at a word boundary (like the original's
/// `/@(wayneAI|consultingAI)\b/`).
fn mention_spans<'a>(content: &'a str, name: &'a str) -> impl Iterator<Item = usize> + 'a {
    content.match_indices('@').filter_map(move |(at, _)| {
        let rest = &content[at + 1..];
        let boundary = rest
            .as_bytes()
            .get(name.len())
            .is_none_or(|&b| !is_word_byte(b));
        (rest.starts_with(name) && boundary).then_some(at)
    })
}

/// The bots mentioned in `content`, each once, in the order of [`AI_NAMES`].
pub fn mentions(content: &str) -> Vec<String> {
    AI_NAMES
        .iter()
        .filter(|name| mention_spans(content, name).next().is_some())
        .map(|name| (*name).to_owned())
        .collect()
}

/// The question for `bot`: the message with every `@bot` mention removed, trimmed.
pub fn query_for(content: &str, bot: &str) -> String {
    let mut out = String::with_capacity(content.len());
    let mut last = 0;
    for at in mention_spans(content, bot) {
        out.push_str(&content[last..at]);
        last = at + 1 + bot.len();
    }
    out.push_str(&content[last..]);
    out.trim().to_owned()
}

/// `query` cut to at most `max_bytes` bytes at a character boundary, ending in `…` when it was cut.
pub fn cap_question(query: &str, max_bytes: usize) -> String {
    if query.len() <= max_bytes {
        return query.to_owned();
    }
    const ELLIPSIS: &str = "…";
    let mut end = max_bytes.saturating_sub(ELLIPSIS.len());
    while !query.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ELLIPSIS}", &query[..end])
}

/// The full reply `bot` gives to `query` (pass it through [`cap_question`] first: the reply echoes
/// the question twice).
pub fn reply(bot: &str, query: &str) -> String {
    let question = if query.is_empty() {
        "(no question)"
    } else {
        query
    };
    match bot {
        "consultingAI" => format!(
            "Consulting AI here. You asked: \"{question}\"\n\n\
             1. Write down what success looks like.\n\
             2. Measure before you change anything.\n\
             3. Change one thing at a time and measure again.\n\n\
             ```text\nplan -> measure -> change -> measure\n```\n\n\
             This reply is generated locally by the reference server; no language model was called."
        ),
        _ => format!(
            "Hi, I am Wayne AI. You asked: \"{question}\"\n\n\
             Here is your question back as a code block, streamed chunk by chunk:\n\n\
             ```text\n{question}\n```\n\n\
             This reply is generated locally by the reference server; no language model was called."
        ),
    }
}

/// One piece of a streamed reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The text of this piece.
    pub text: String,
    /// Whether the stream is inside a fenced code block after this piece (toggled by each piece
    /// that contains a fence, as the original did).
    pub in_code_block: bool,
}

/// Cuts a reply into at most `max_chunks + 2` chunks (at least 1), each ending after a word and its
/// trailing whitespace, so the chunks concatenate back to exactly the reply. A chunk takes whole
/// words until it holds at least `len / max_chunks` bytes: short replies still stream a word or two
/// at a time (the original streamed word by word), long ones in proportionally larger pieces. The
/// first two fences (the reply's code block) also end their chunk, so a short block still streams
/// with `isCodeBlock` on; that is where the `+ 2` comes from.
pub fn chunks(reply: &str, max_chunks: usize) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut in_code_block = false;
    let mut start = 0;
    let bytes = reply.as_bytes();
    // Every chunk but the last and those cut at a fence holds at least `least` bytes.
    let least = bytes.len().div_ceil(max_chunks.max(1));
    let mut fence_cuts = 2;
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (i - start < least || i == start) {
            // Skip a word, then the whitespace after it.
            let word = i;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let fence = reply[word..i].contains("```");
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if fence && fence_cuts > 0 {
                fence_cuts -= 1;
                break;
            }
        }
        let text = &reply[start..i];
        // A chunk of several words may hold both fences of a block: they cancel out.
        if text.matches("```").count() % 2 == 1 {
            in_code_block = !in_code_block;
        }
        out.push(Chunk {
            text: text.to_owned(),
            in_code_block,
        });
        start = i;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_need_a_word_boundary() {
        assert_eq!(mentions("hey @wayneAI how?"), ["wayneAI"]);
        assert_eq!(
            mentions("@consultingAI, and @wayneAI!"),
            ["wayneAI", "consultingAI"]
        );
        assert!(mentions("@wayneAIx and wayneAI and @wayne").is_empty());
        assert_eq!(mentions("@wayneAI @wayneAI"), ["wayneAI"]);
        assert!(mentions("").is_empty());
    }

    #[test]
    fn query_drops_only_that_bots_mentions() {
        assert_eq!(
            query_for("@wayneAI what is Rust?", "wayneAI"),
            "what is Rust?"
        );
        assert_eq!(
            query_for("ask @wayneAI and @consultingAI", "wayneAI"),
            "ask  and @consultingAI"
        );
        assert_eq!(query_for("@wayneAIx hi", "wayneAI"), "@wayneAIx hi");
    }

    #[test]
    fn replies_are_deterministic_and_chunks_reassemble() {
        for bot in AI_NAMES {
            let a = reply(bot, "why?");
            assert_eq!(a, reply(bot, "why?"));
            assert!(a.contains("why?"));
            let pieces = chunks(&a, 16);
            assert!((10..=16 + 2).contains(&pieces.len()), "{}", pieces.len());
            let joined: String = pieces.iter().map(|c| c.text.as_str()).collect();
            assert_eq!(joined, a);
            // The fence opens and closes again.
            assert!(pieces.iter().any(|c| c.in_code_block));
            assert!(!pieces.last().unwrap().in_code_block);
        }
        assert!(reply("wayneAI", "").contains("(no question)"));
        assert!(chunks("", 24).is_empty());
    }

    #[test]
    fn long_replies_keep_the_chunk_count_and_short_questions_stay_whole() {
        let question = "why ".repeat(5_000);
        let capped = cap_question(&question, 500);
        assert!(
            capped.len() <= 500 && capped.ends_with('…'),
            "{}",
            capped.len()
        );
        assert_eq!(cap_question("why?", 500), "why?");
        // A cut never splits a character.
        assert_eq!(cap_question("ééé", 5), "é…");
        let long = reply("wayneAI", &capped);
        let pieces = chunks(&long, 24);
        assert!(pieces.len() <= 24 + 2, "{}", pieces.len());
        assert!(pieces.iter().any(|c| c.in_code_block));
        assert_eq!(
            pieces.iter().map(|c| c.text.as_str()).collect::<String>(),
            long
        );
        // One unbroken word is one chunk, whatever its length.
        assert_eq!(chunks(&"x".repeat(10_000), 24).len(), 1);
    }
}
