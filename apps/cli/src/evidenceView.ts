/** Terminal rendering of an evidence bundle (placeholder: the markdown). */
import { renderEvidenceMarkdown } from "@switchyard/core"
import type { EvidenceBundle } from "@switchyard/domain"

export const renderEvidenceTerminal = (bundle: EvidenceBundle, _options: { readonly color: boolean }): string =>
  renderEvidenceMarkdown(bundle)
