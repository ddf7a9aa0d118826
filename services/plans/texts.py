"""The printable plan's fixed texts in German and the clients' languages; what the manager wrote stays as written.

Each entry lists German first, then ar, fa (right to left), uk, ru, tr, en. `{day}` and `{language}` are filled in.
"""

from __future__ import annotations

LANGUAGES = ("de", "ar", "fa", "uk", "ru", "tr", "en")
RIGHT_TO_LEFT = frozenset({"ar", "fa"})

_TEXTS: dict[str, tuple[str, ...]] = {
    # headings
    "plan": ("Integrationsplan", "خطة الاندماج", "برنامه ادغام", "План інтеграції", "План интеграции",
             "Entegrasyon planı", "Integration plan"),
    "version": ("Fassung", "النسخة", "نسخه", "Версія", "Версия", "Sürüm", "Version"),
    "draft": ("Entwurf – noch nicht vereinbart", "مسودة – لم يتم الاتفاق عليها بعد", "پیش‌نویس – هنوز توافق نشده",
              "Чернетка – ще не погоджено", "Черновик – ещё не согласован", "Taslak – henüz kararlaştırılmadı",
              "Draft – not yet agreed"),
    "client": ("Name", "الاسم", "نام", "Ім'я", "Имя", "Ad", "Name"),
    "goal": ("Ziel", "الهدف", "هدف", "Ціль", "Цель", "Hedef", "Goal"),
    "area": ("Handlungsfeld", "المجال", "حوزه", "Сфера", "Сфера", "Alan", "Area"),
    "target_date": ("Zieldatum", "الموعد المستهدف", "تاریخ هدف", "Цільова дата", "Целевая дата",
                    "Hedef tarihi", "Target date"),
    "status": ("Stand", "الحالة", "وضعیت", "Стан", "Статус", "Durum", "Status"),
    "steps": ("Schritte", "الخطوات", "گام‌ها", "Кроки", "Шаги", "Adımlar", "Steps"),
    "what": ("Was", "ماذا", "چه کاری", "Що", "Что", "Ne", "What"),
    "who": ("Wer", "من", "چه کسی", "Хто", "Кто", "Kim", "Who"),
    "due_on": ("Bis wann", "حتى متى", "تا چه زمانی", "До коли", "До какого срока", "Ne zamana kadar", "By when"),
    "no_steps": ("Noch keine Schritte vereinbart.", "لم يتم الاتفاق على خطوات بعد.", "هنوز گامی توافق نشده است.",
                 "Кроки ще не погоджено.", "Шаги ещё не согласованы.", "Henüz adım kararlaştırılmadı.",
                 "No steps agreed yet."),
    "agreement": ("Vereinbarung", "الاتفاق", "توافق", "Угода", "Соглашение", "Anlaşma", "Agreement"),
    "agreement_sentence": (
        "Dieser Plan wurde am {day} mit mir besprochen und mir auf {language} erklärt. Ich bin mit ihm einverstanden.",
        "تمت مناقشة هذه الخطة معي بتاريخ {day} وشُرحت لي باللغة {language}. أنا موافق عليها.",
        "این برنامه در تاریخ {day} با من در میان گذاشته شد و به زبان {language} برایم توضیح داده شد. با آن موافقم.",
        "Цей план обговорено зі мною {day} і пояснено мені {language} мовою. Я з ним згоден/згодна.",
        "Этот план был обсуждён со мной {day} и объяснён мне на {language} языке. Я с ним согласен/согласна.",
        "Bu plan {day} tarihinde benimle görüşüldü ve bana {language} dilinde açıklandı. Planı kabul ediyorum.",
        "This plan was discussed with me on {day} and explained to me in {language}. I agree to it.",
    ),
    "signed_on_paper": ("Auf Papier unterschrieben", "تم التوقيع على الورق", "روی کاغذ امضا شد",
                        "Підписано на папері", "Подписано на бумаге", "Kağıt üzerinde imzalandı", "Signed on paper"),
    "review_on": ("Nächste Überprüfung", "المراجعة القادمة", "بازبینی بعدی", "Наступний перегляд",
                  "Следующий пересмотр", "Bir sonraki gözden geçirme", "Next review"),
    "signature_client": ("Unterschrift Klient/in", "توقيع العميل", "امضای مراجع", "Підпис клієнта",
                         "Подпись клиента", "Danışanın imzası", "Client's signature"),
    "signature_manager": ("Unterschrift Integrationsmanager/in", "توقيع مدير الاندماج", "امضای مدیر ادغام",
                          "Підпис менеджера з інтеграції", "Подпись менеджера по интеграции",
                          "Entegrasyon yöneticisinin imzası", "Integration manager's signature"),
    # areas
    "area.language": ("Sprache", "اللغة", "زبان", "Мова", "Язык", "Dil", "Language"),
    "area.work": ("Arbeit", "العمل", "کار", "Робота", "Работа", "İş", "Work"),
    "area.housing": ("Wohnen", "السكن", "مسکن", "Житло", "Жильё", "Barınma", "Housing"),
    "area.school": ("Schule", "المدرسة", "مدرسه", "Школа", "Школа", "Okul", "School"),
    "area.education": ("Ausbildung und Studium", "التدريب المهني والدراسة", "آموزش حرفه‌ای و تحصیل",
                       "Професійне навчання та навчання у виші", "Профобучение и учёба", "Meslek eğitimi ve öğrenim",
                       "Training and studies"),
    "area.health": ("Gesundheit", "الصحة", "سلامت", "Здоров'я", "Здоровье", "Sağlık", "Health"),
    "area.family": ("Familie und Kinder", "الأسرة والأطفال", "خانواده و کودکان", "Сім'я та діти", "Семья и дети",
                    "Aile ve çocuklar", "Family and children"),
    "area.residence": ("Aufenthalt", "الإقامة", "اقامت", "Перебування", "Пребывание", "Oturum durumu",
                       "Residence status"),
    "area.benefits": ("Leistungen", "المساعدات", "مزایا", "Соціальні виплати", "Социальные выплаты",
                      "Sosyal yardımlar", "Benefits"),
    "area.everyday_life": ("Alltag", "الحياة اليومية", "زندگی روزمره", "Повсякденне життя", "Повседневная жизнь",
                           "Günlük yaşam", "Everyday life"),
    # goal statuses
    "goal.open": ("Nicht begonnen", "لم يبدأ", "شروع نشده", "Не розпочато", "Не начато", "Başlanmadı", "Not started"),
    "goal.in_progress": ("In Arbeit", "قيد التنفيذ", "در حال انجام", "Виконується", "В работе", "Devam ediyor",
                         "In progress"),
    "goal.achieved": ("Erreicht", "تم تحقيقه", "محقق شد", "Досягнуто", "Достигнуто", "Ulaşıldı", "Achieved"),
    "goal.dropped": ("Aufgegeben", "تم التخلي عنه", "کنار گذاشته شد", "Відмовлено", "Отменено", "Vazgeçildi",
                     "Dropped"),
    # step statuses
    "step.open": ("Offen", "مفتوح", "باز", "Відкрито", "Открыто", "Açık", "Open"),
    "step.referred": ("Vermittelt", "تمت الإحالة", "ارجاع داده شد", "Направлено", "Направлено", "Yönlendirildi",
                      "Referred"),
    "step.accepted": ("Angenommen", "تم القبول", "پذیرفته شد", "Прийнято", "Принято", "Kabul edildi", "Accepted"),
    "step.done": ("Erledigt", "تم", "انجام شد", "Виконано", "Выполнено", "Tamamlandı", "Done"),
    "step.declined": ("Abgelehnt", "مرفوض", "رد شد", "Відхилено", "Отклонено", "Reddedildi", "Declined"),
    # who
    "who.client": ("Klient/in", "العميل", "مراجع", "Клієнт", "Клиент", "Danışan", "Client"),
    "who.manager": ("Integrationsmanager/in", "مدير الاندماج", "مدیر ادغام", "Менеджер з інтеграції",
                    "Менеджер по интеграции", "Entegrasyon yöneticisi", "Integration manager"),
    "partner.jobcenter": ("Jobcenter", "مركز العمل (Jobcenter)", "مرکز کاریابی (Jobcenter)", "Джобцентр",
                          "Джобцентр", "Jobcenter", "Jobcentre"),
    "partner.employment_agency": ("Agentur für Arbeit", "وكالة العمل", "آژانس کار", "Агенція праці",
                                  "Агентство по труду", "İş Ajansı", "Employment agency"),
    "partner.language_course_provider": ("Sprachkursträger", "مقدم دورات اللغة", "ارائه‌دهنده دوره زبان",
                                         "Організатор мовних курсів", "Организатор языковых курсов",
                                         "Dil kursu sağlayıcısı", "Language course provider"),
    "partner.migration_counselling": ("Migrationsberatung", "استشارات الهجرة", "مشاوره مهاجرت",
                                      "Консультації для мігрантів", "Консультации для мигрантов",
                                      "Göç danışmanlığı", "Migration counselling"),
    "partner.immigration_office": ("Ausländerbehörde", "دائرة الأجانب", "اداره اتباع خارجی",
                                   "Відомство у справах іноземців", "Ведомство по делам иностранцев",
                                   "Yabancılar Dairesi", "Immigration office"),
    "partner.social_welfare_office": ("Sozialamt", "مكتب الشؤون الاجتماعية", "اداره امور اجتماعی",
                                      "Соціальне відомство", "Социальное ведомство", "Sosyal Yardım Dairesi",
                                      "Social welfare office"),
    "partner.youth_welfare_office": ("Jugendamt", "مكتب رعاية الشباب", "اداره جوانان", "Служба у справах молоді",
                                     "Ведомство по делам молодёжи", "Gençlik Dairesi", "Youth welfare office"),
    "partner.school": ("Schule", "المدرسة", "مدرسه", "Школа", "Школа", "Okul", "School"),
    "partner.childcare": ("Kita", "الحضانة", "مهدکودک", "Дитячий садок", "Детский сад", "Kreş", "Childcare"),
    "partner.health_service": ("Gesundheitsdienst", "الخدمة الصحية", "خدمات بهداشتی", "Служба охорони здоров'я",
                               "Служба здравоохранения", "Sağlık hizmeti", "Health service"),
    "partner.housing": ("Wohnungsstelle", "مكتب السكن", "اداره مسکن", "Житлова служба", "Жилищная служба",
                        "Konut birimi", "Housing office"),
    "partner.debt_counselling": ("Schuldnerberatung", "استشارات الديون", "مشاوره بدهی", "Консультації щодо боргів",
                                 "Консультации по долгам", "Borç danışmanlığı", "Debt counselling"),
    "partner.volunteers": ("Ehrenamtliche", "المتطوعون", "داوطلبان", "Волонтери", "Волонтёры", "Gönüllüler",
                           "Volunteers"),
    "partner.other": ("Andere Stelle", "جهة أخرى", "نهاد دیگر", "Інша установа", "Другая организация",
                      "Diğer kurum", "Other service"),
}

# The language the plan was explained in, as the agreement sentence names it (German, then the client's).
LANGUAGE_NAMES: dict[str, tuple[str, ...]] = {
    "de": ("Deutsch", "الألمانية", "آلمانی", "німецькою", "немецком", "Almanca", "German"),
    "ar": ("Arabisch", "العربية", "عربی", "арабською", "арабском", "Arapça", "Arabic"),
    "fa": ("Persisch", "الفارسية", "فارسی", "перською", "персидском", "Farsça", "Persian"),
    "uk": ("Ukrainisch", "الأوكرانية", "اوکراینی", "українською", "украинском", "Ukraynaca", "Ukrainian"),
    "ru": ("Russisch", "الروسية", "روسی", "російською", "русском", "Rusça", "Russian"),
    "tr": ("Türkisch", "التركية", "ترکی", "турецькою", "турецком", "Türkçe", "Turkish"),
    "en": ("Englisch", "الإنجليزية", "انگلیسی", "англійською", "английском", "İngilizce", "English"),
}


def text(key: str, lang: str) -> str:
    """A fixed text in one of LANGUAGES."""
    return _TEXTS[key][LANGUAGES.index(lang)]


def language_name(code: str, lang: str) -> str:
    """A language's name in `lang`; a code we have no name for shows as it is."""
    names = LANGUAGE_NAMES.get(code)
    return names[LANGUAGES.index(lang)] if names else code
