"""The stages of a hearing (宣布开庭 … 宣判): marks whose label is one of these, one click for
the clerk, and the headings under which the 笔录 groups the lines that follow each."""

HEARING_STAGES = ("宣布开庭", "核对当事人身份", "法庭调查", "法庭辩论", "最后陈述", "宣判")
