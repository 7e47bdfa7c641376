// Every string of the console and the portal comes from a message file (en.json, tr.json); the
// chosen language is remembered in the browser.
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import en from './en.json';
import tr from './tr.json';

export type MessageKey = keyof typeof en;
export const LANGUAGES = { en: 'English', tr: 'Türkçe' } as const;
export type Language = keyof typeof LANGUAGES;
const MESSAGES: Record<Language, Record<MessageKey, string>> = { en, tr };

interface I18n {
  lang: Language;
  setLang(lang: Language): void;
  t(key: MessageKey, vars?: Record<string, string | number>): string;
  num(n: number): string;
  date(iso: string): string;
}

const Context = createContext<I18n | null>(null);

function initialLanguage(): Language {
  const saved = localStorage.getItem('laurel.lang');
  if (saved === 'en' || saved === 'tr') return saved;
  return navigator.language.startsWith('tr') ? 'tr' : 'en';
}

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Language>(initialLanguage);
  const setLang = useCallback((l: Language) => {
    localStorage.setItem('laurel.lang', l);
    document.documentElement.lang = l;
    setLangState(l);
  }, []);
  const value = useMemo<I18n>(() => {
    const locale = lang === 'tr' ? 'tr-TR' : 'en-GB';
    const numbers = new Intl.NumberFormat(locale);
    const dates = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' });
    document.documentElement.lang = lang;
    return {
      lang, setLang,
      t: (key, vars) => (MESSAGES[lang][key] ?? en[key] ?? key).replace(/\{(\w+)\}/g, (_, v: string) => String(vars?.[v] ?? `{${v}}`)),
      num: (n) => numbers.format(n),
      date: (iso) => dates.format(new Date(iso)),
    };
  }, [lang, setLang]);
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useI18n(): I18n {
  const i18n = useContext(Context);
  if (!i18n) throw new Error('useI18n outside I18nProvider');
  return i18n;
}

export function LanguageSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <label className="lang">
      <span className="visually-hidden">{t('language')}</span>
      <select value={lang} onChange={(e) => setLang(e.target.value as Language)} aria-label={t('language')}>
        {Object.entries(LANGUAGES).map(([code, name]) => <option key={code} value={code}>{name}</option>)}
      </select>
    </label>
  );
}
