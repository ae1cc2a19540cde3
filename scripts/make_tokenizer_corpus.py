"""Writes tests/tokenizer_corpus.json: hand-written strings for the tokenizer tests.

Run from the repository root: python scripts/make_tokenizer_corpus.py
The JSON (ensure_ascii) is committed; this script only documents how it was made.
"""
import json
from pathlib import Path

BASIC = [
    "", " ", "  ", "   ", "\n", "\n\n", "\n\n\n", "\t", "\t\t", "\r\n", "\r", " \n ", "\n \n",
    "a", "A", "ab", "Hello", "Hello world", "Hello, world!", "hello world", " Hello world",
    "Hello world ", "  Hello  world  ", "Hello\nworld", "Hello\r\nworld", "Hello\tworld",
    "Hello\n\nworld", "Hello \n world", "line one\nline two\nline three\n",
    "trailing spaces   ", "   leading spaces", "    four leading", "\tleading tab",
    "mixed \t \n \r\n whitespace", "a  b   c    d     e", "a\u00a0b",  # no-break space
    "zero\u200bwidth", "soft\u00adhyphen", "ideographic\u3000space", "em\u2003space",
    "The quick brown fox jumps over the lazy dog.",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "It's a dog's life, isn't it? We'll see, they'd say, you're right, I've won.",
    "\"Quoted\" and 'single quoted' and `backticks`",
    "Punctuation!?!... --- ;; :: ,,, ((())) [[[]]] {{{}}}",
    "e.g. i.e. etc. Dr. Mr. Mrs. U.S.A.",
    "hyphen-ated words and under_scored_names and CamelCaseNames",
    "ALLCAPS lowercase MiXeD cAsE",
    "antidisestablishmentarianism", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "supercalifragilisticexpialidocious",
]

NUMBERS = [
    "0", "1", "12", "123", "1234", "12345", "123456789", "3.14159", "-42", "+7", "1e10",
    "2.5e-3", "1,000,000", "1.000.000,00", "$19.99", "€5,00", "¥1000", "£3.50", "100%",
    "0x1F", "0b1010", "0o777", "2024-01-15", "15/01/2024", "12:34:56", "10:30 AM",
    "+1 (555) 123-4567", "192.168.0.1", "::1", "fe80::1ff:fe23:4567:890a",
    "3 + 4 = 7", "10 / 3 = 3.333...", "2^10 = 1024", "1/2 + 1/3 = 5/6",
    "Version 1.2.3-beta.4+build.5", "ISBN 978-3-16-148410-0",
    "π ≈ 3.14159265358979323846", "00000000", "9999999999999999999999",
]

URLS = [
    "https://www.example.com", "http://example.org/path/to/page?query=1&other=two#frag",
    "https://en.wikipedia.org/wiki/Tokenization_(lexical_analysis)",
    "ftp://files.example.net/pub/file.tar.gz", "mailto:someone@example.com",
    "user.name+tag@sub.domain.co.uk", "file:///home/user/documents/report.pdf",
    "C:\\Users\\Admin\\Desktop\\file.txt", "/usr/local/bin/python3",
    "www.google.com/search?q=hello+world", "https://例え.jp/パス",
    "@username #hashtag $TICKER", "<a href=\"https://x.y\">link</a>",
]

CODE = [
    "def f(x):\n    return x * 2\n",
    "for i in range(10):\n\tprint(i)\n",
    "class Foo:\n    def __init__(self):\n        self.x = 1\n",
    "import numpy as np\nx = np.zeros((3, 4), dtype=np.float32)",
    "if (a && b || !c) { return -1; }",
    "#include <stdio.h>\nint main(void) {\n    printf(\"Hello, %s!\\n\", \"world\");\n    return 0;\n}\n",
    "int *p = &x; p->next = NULL; a[i++] = b[--j];",
    "template <typename T> std::vector<T> v{1, 2, 3};",
    "fn main() { let v: Vec<i32> = vec![1, 2, 3]; println!(\"{:?}\", v); }",
    "func main() {\n\tfmt.Println(\"hi\")\n}",
    "public static void main(String[] args) { System.out.println(args.length); }",
    "const f = (a, b) => a ?? b; let s = `template ${f(1, 2)}`;",
    "SELECT id, name FROM users WHERE age > 18 ORDER BY name DESC;",
    "<!DOCTYPE html>\n<html><head><title>T</title></head><body><p>Hi</p></body></html>",
    "<div class=\"container\">\n  <span id='x'>text</span>\n</div>",
    "{\"key\": \"value\", \"list\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
    "key: value\nlist:\n  - one\n  - two\n",
    "[section]\nname = \"value\"\nnumber = 42\n",
    "#!/bin/bash\nset -euo pipefail\nfor f in *.txt; do echo \"$f\"; done\n",
    "x = lambda *args, **kwargs: (args, kwargs)",
    "a := b; c += d; e -= f; g *= h; i /= j; k %= l; m <<= 2; n >>= 3;",
    "/* block comment */ // line comment\n# python comment\n-- sql comment",
    "\\begin{equation} E = mc^2 \\end{equation}",
    "$$\\int_0^\\infty e^{-x^2} dx = \\frac{\\sqrt{\\pi}}{2}$$",
    "    indented with four spaces\n        and eight\n            and twelve",
    "\t\tdouble tab indent\n\t\t\ttriple",
    "    ", "        ", "                ", "\t    \t    mixed indent",
    "x=1;y=2;z=x+y", "a==b!=c<=d>=e", "<<>>&&||!!", "~!@#$%^&*()_+`-=[]\\{}|;':\",./<>?",
    "print('héllo')  # commentaire en français",
    "// 日本語のコメント\nint x = 0;",
    "```python\nprint(1)\n```",
    "| col1 | col2 |\n|------|------|\n| a    | b    |",
]

EMOJI = [
    "😀", "😀😀😀", "Hello 😀 world", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸🇩🇪🇯🇵🇫🇷",
    "🇺🇸", "❤️", "❤️‍🔥", "🧑🏿‍🚀", "✨🎉🎊", "🐍 Python", "🚀 launch at 🕙",
    "emoji at end 🙂", "🙂 emoji at start", "a😀b😀c", "©®™", "☺☹☠", "🫠🫶🪿",
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "1️⃣2️⃣3️⃣", "#️⃣*️⃣",
]

LATIN = [
    "Grüße aus München! Die Straße ist schön.", "Äpfel, Öl und Übermut — ÄÖÜ äöü ß ẞ",
    "Fußgängerübergänge", "Donaudampfschifffahrtsgesellschaftskapitän",
    "Ça va? Très bien, merci. Où est la gare?", "L'été dernier, j'ai mangé des crêpes à Noël.",
    "œuvre, cœur, Æsop, naïve, façade, déjà vu",
    "¿Dónde está la biblioteca? ¡Olé!", "El niño comió piña y jalapeños en España.",
    "Açúcar, pão, coração, ação — português", "Björk, Ørsted, Åland, smørrebrød",
    "Łódź, Kraków, Gdańsk — zażółć gęślą jaźń", "Čeština: příliš žluťoučký kůň úpěl ďábelské ódy",
    "Türkçe: İstanbul, ığdır, şeker, çiçek", "Tiếng Việt: Xin chào, cảm ơn rất nhiều",
    "Română: știință, țară", "Magyar: árvíztűrő tükörfúrógép", "Íslenska: Þetta er ðæs",
    "e\u0301 (combining acute) vs é (precomposed)", "A\u030a vs Å", "ﬁ ﬂ ligatures",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", "ⓐⓑⓒ ⒜⒝⒞", "𝐁𝐨𝐥𝐝 𝑰𝒕𝒂𝒍𝒊𝒄 𝔉𝔯𝔞𝔨𝔱𝔲𝔯",
]

OTHER_SCRIPTS = [
    "Привет, мир! Как дела?", "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Ελληνικά: Καλημέρα κόσμε", "Українська: Ґанок, їжак, єнот",
    "你好，世界！", "我爱自然语言处理。", "中文文本没有空格分隔单词",
    "繁體中文：電腦軟體與網際網路", "今日はいい天気ですね。", "ひらがな カタカナ 漢字",
    "東京都渋谷区", "ｶﾀｶﾅ 半角", "안녕하세요, 세계!", "한국어 텍스트를 토큰화합니다.",
    "مرحبا بالعالم", "اللغة العربية جميلة جداً.", "العربية مع English مختلطة",
    "שלום עולם", "עברית: אני אוהב תכנות", "فارسی: سلام دنیا",
    "नमस्ते दुनिया", "हिन्दी भाषा में पाठ।", "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ", "สวัสดีครับ",
    "বাংলা ভাষা", "தமிழ் மொழி", "తెలుగు", "ಕನ್ನಡ", "മലയാളം", "ગુજરાતી", "ਪੰਜਾਬੀ",
    "ქართული ენა", "Հայերեն լեզու", "አማርኛ ቋንቋ", "ᠮᠣᠩᠭᠣᠯ", "ພາສາລາວ", "ភាសាខ្មែរ",
    "မြန်မာဘာသာ", "བོད་ཡིག", "ᏣᎳᎩ", "ᚠᚢᚦᚨᚱᚲ", "𓀀𓀁𓀂", "𐌰𐌱𐌲",
    "Mixed: Hello 你好 Привет مرحبا שלום नमस्ते こんにちは 안녕",
    "English text with 中文 in the middle and العربية at the end",
    "数字123和English混合", "日本語とEnglishの混在テキスト",
    "\u202eright-to-left override\u202c", "\u200fRLM\u200e LRM",
]

MATH = [
    "∀x ∈ ℝ: x² ≥ 0", "∑_{i=1}^{n} i = n(n+1)/2", "∫ f(x) dx ≈ Σ f(xᵢ) Δx",
    "α β γ δ ε ζ η θ λ μ π σ φ ψ ω", "Δ Ω Σ Π Φ Ψ", "√2 ∛8 ∞ ∂ ∇ ⊕ ⊗ ⊂ ⊃ ∪ ∩ ∧ ∨ ¬",
    "x ≤ y ≠ z ≈ w ≡ v", "→ ← ↑ ↓ ↔ ⇒ ⇐ ⇔", "½ ¼ ¾ ⅓ ⅔", "x₁ + x₂ = y³",
    "°C °F ‰ ′ ″", "• ‣ ◦ ○ ● □ ■ ▲ △ ▼", "★☆♠♣♥♦♪♫", "─│┌┐└┘├┤┬┴┼",
    "℃ № ℗ ℠ Ω ℮", "⌘⌥⇧⌃⎋", "✓ ✔ ✗ ✘",
]

SPECIAL = [
    "<start_of_turn>user\nHi<end_of_turn>",
    "<start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\nHi there!<end_of_turn>\n",
    "<bos>", "<eos>", "<pad>", "<unk>", "<mask>", "<bos>Hello", "Hello<eos>", "<bos><bos>",
    "<start_of_turn>", "<end_of_turn>", "<start_of_turn>model\n", "text<end_of_turn>text",
    "<start_of_turn><end_of_turn>", "<<start_of_turn>>", "<start_of_turn", "start_of_turn>",
    "<START_OF_TURN>", "< start_of_turn >", "<unused0>", "<unused99>", "[multimodal]",
    "<start_of_image>", "<end_of_image>", "<0x41>", "<0x0A>", "<0xFF>", "<0x41><0x42>",
    "<0x>", "<0xZZ>", "<s>", "</s>", "<|endoftext|>", "<|im_start|>user\nhi<|im_end|>",
    "<|im_start|>", "<|im_end|>", "<|eot_id|>", "<html>", "</html>", "<br/>", "<>",
    "<<>>", "<", ">", "< >", "<eos> <bos> <pad>", "a<bos>b<eos>c",
    "<start_of_turn>user\n<start_of_turn>nested<end_of_turn><end_of_turn>",
    "\n<start_of_turn>\n", " <start_of_turn> ", "<mask><mask><mask>",
    "<repo_name>", "<file_sep>", "<filename>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>",
    "[INST] hello [/INST]", "<<SYS>>\nsystem\n<</SYS>>",
]

REPEATS = [
    "a" * 1000, "ab" * 500, "abc" * 300, " " * 100, " " * 33, "\n" * 40, "\t" * 50,
    "." * 200, "-" * 80, "=" * 80, "_" * 64, "*" * 50, "#" * 40, "!" * 30, "?" * 30,
    "😀" * 100, "你" * 200, "é" * 300, "0" * 500, "1234567890" * 30, "ha" * 100,
    "the " * 200, "Hello world! " * 50, "\r\n" * 30, " \n" * 30, "a " * 200,
    "aaaa bbbb cccc dddd " * 20, "x" * 1, "xx", "xxx", "xxxx", "xxxxx",
    "▁", "▁▁▁", "▁hello", "hello▁world", "\u2581 \u2581",
]

HOSTILE = [
    "\x00", "a\x00b", "\x00\x00\x00", "null\x00in\x00middle", "\x01\x02\x03\x1f\x7f",
    "\x1b[31mred\x1b[0m", "\x08\x0b\x0c", "\ufeffBOM at start", "\ufffd replacement char",
    "\uffff", "\U0010ffff", "\U000e0001", "\u0300 combining alone", "\u200d",
    "a\u200d\u200d\u200db", "Z̴̡̪͉̈́̈a̸̢̛͔l̷̰̈g̶̱̈́o̵̦̔", "\U0001f600\u200d\U0001f600",
    "\u0085next line", "\u2028line sep\u2029para sep",
]

PROSE = [
    "Once upon a time, in a land far, far away, there lived a curious little robot named Tok.",
    "Tokenization splits text into pieces; each piece maps to an integer id in the vocabulary.",
    "The mitochondria is the powerhouse of the cell.",
    "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer",
    "Q: What is 2 + 2?\nA: 4.",
    "Dear Sir or Madam,\n\nI am writing to inquire about...\n\nSincerely,\nJohn Doe",
    "- item one\n- item two\n  - nested item\n* star item\n1. numbered",
    "# Heading\n\n## Subheading\n\n**bold** _italic_ ~~strike~~ `code`",
    "He said, \u201cHello!\u201d and she replied, \u2018Hi.\u2019",
    "Ellipsis\u2026 en\u2013dash em\u2014dash",
    "Temperature: -5°C to +30°C; humidity: 45%.",
    "I can't believe it's not butter!", "Don't stop believin'",
    "Rock 'n' roll", "The '90s were great; so were the 80's.",
    "Mr. O'Neil's café serves naïve piñatas.",
    "Supercalifragilistic-expialidocious-ly speaking, yes.",
    "What's up? Nothing much. You?",
    "Price: 1,234.56 USD (approx. €1.100,00)",
    "The year 2023 had 365 days; 2024 had 366.",
]


def main() -> None:
    corpus = []
    for group in (BASIC, NUMBERS, URLS, CODE, EMOJI, LATIN, OTHER_SCRIPTS, MATH, SPECIAL,
                  REPEATS, HOSTILE, PROSE):
        for s in group:
            if s not in corpus:
                corpus.append(s)
    # Every special-token string glued to ordinary text on both sides.
    for s in SPECIAL[:12]:
        glued = f"x {s}y\n"
        if glued not in corpus:
            corpus.append(glued)
    out = Path(__file__).resolve().parent.parent / "tests" / "tokenizer_corpus.json"
    out.write_text(json.dumps(corpus, ensure_ascii=True, indent=0) + "\n")
    print(f"{len(corpus)} strings -> {out}")


if __name__ == "__main__":
    main()
