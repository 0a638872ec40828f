"""`TokenizerConfig`: how programs and outputs become tokens, saved with a run's configuration."""
from __future__ import annotations

import dataclasses

from jaxlua.config.fields import ConfigBase as _Config
from jaxlua.config.fields import config_field as _field
from jaxlua.config.registries import DIGIT_ORDERS, IDENTIFIER_STYLES, TOKENIZER_MODES


@dataclasses.dataclass(frozen=True)
class TokenizerConfig(_Config):
    """How programs and outputs become tokens; saved with a run so evaluation tokenizes as training did."""

    mode: str = _field("semantic", "Tokenizer mode.", choices=TOKENIZER_MODES, flag="tokenizer_mode")
    identifiers: str | None = _field(None, "How identifiers are tokenized in semantic mode (unset: canonical there; "
                                           "the other modes always keep names).", choices=IDENTIFIER_STYLES)
    digits: str = _field("msd", "Digit order of number literals.", choices=DIGIT_ORDERS)
    program_copies: int = _field(1, "Times the program is written before the output: 2 reads it twice, "
                                    "`program <BOS> program` (Learning to Execute's input doubling).", low=1, high=2)

    def _check_together(self) -> None:
        if self.mode != "semantic" and self.identifiers not in (None, "names"):
            raise ValueError(f"identifiers={self.identifiers!r} applies to the semantic tokenizer mode only")

    @property
    def identifier_style(self) -> str:
        """The identifier style in force: `identifiers`, or when unset canonical in semantic mode, else names.

        Canonical is the semantic default because whole-name tokens do not close over varied programs: their
        vocabulary grows with the data and unseen names become <UNK>.
        """
        if self.identifiers is not None:
            return self.identifiers
        return "canonical" if self.mode == "semantic" else "names"

    @property
    def spell_identifiers(self) -> bool:
        """Whether identifiers are spelled (`Tokenizer`'s boolean for identifiers="spelled")."""
        return self.identifier_style == "spelled"
