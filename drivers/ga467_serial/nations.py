"""Ethnic-group codes of GB/T 3304-1991 as the resident ID card stores them (two ASCII digits).

The names are the ones printed on the card (the group's name without the 族 suffix); 97 and 98
are GB 3304's "other" and "foreign origin, Chinese nationality". Source: GB/T 3304-1991 code table
(as reproduced in public data-dictionary projects), reference/protocols.md §1.
"""
from __future__ import annotations

_NAMES = (
    "汉 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水 "
    "东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 "
    "俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺"
).split()
assert len(_NAMES) == 56

NATIONS: dict[str, str] = {f"{i:02d}": name for i, name in enumerate(_NAMES, start=1)}
NATIONS["97"] = "其他"
NATIONS["98"] = "外国血统中国籍人士"


def nation_name(code: str) -> str:
    """'01' -> '汉'; an unknown code is returned as ``?NN`` so it stays visible, never guessed."""
    return NATIONS.get(code, f"?{code}" if code else "")
